"""Sends one webhook delivery over HTTP and says how it went.

The request goes to an address the URL policy has just checked, never to the name
resolved again (see `domain/targets.py`): the URL is rewritten to that address, and the
name travels in the Host header and, for TLS, in the SNI, against which the receiver's
certificate is verified as usual. Redirects are not followed (the place they lead was
never checked), proxies of the environment are ignored, and each request has a client
of its own: no connection or cookie of one receiver is ever offered to another.
"""

from __future__ import annotations

import logging
import ssl
import time
from datetime import datetime

import httpx

from services.analytics.domain.targets import IPAddress, RefusedTarget, Resolver, Target, UrlPolicy, resolve
from services.analytics.domain.webhooks import SIGNATURE_HEADER, Attempt, Delivery, sign

log = logging.getLogger(__name__)

USER_AGENT = "Gantry-Webhooks/1"
# What is read of an answer: its status is all that counts, and a receiver streaming an
# endless body must not hold a sender.
MAX_ANSWER_BYTES = 64 * 1024
# The length of `webhook_attempts.error`.
MAX_ERROR_LENGTH = 500


class Sender:
    def __init__(self, policy: UrlPolicy, timeout_seconds: float, resolver: Resolver = resolve) -> None:
        self._policy = policy
        self._timeout = httpx.Timeout(timeout_seconds)
        self._resolver = resolver
        # Loading the trusted certificates costs more than a request's client: once.
        self._tls = ssl.create_default_context()

    def send(self, delivery: Delivery, url: str, secret: str, at: datetime) -> Attempt:
        """Posts the delivery's body, signed at `at`, to `url`: one attempt."""
        started = time.monotonic()
        try:
            status, error = self._post(delivery, url, secret, at)
        except Exception:
            # A defect met on one subscriber's URL must not stop every delivery (nor, the
            # delivery coming back after a restart, the notifier for good): it fails this
            # attempt, in the log and in the attempts its tenant reads.
            log.exception("delivery attempt broke", extra={"delivery_id": delivery.id})
            status, error = 0, "internal error"
        duration_ms = round((time.monotonic() - started) * 1000)
        return Attempt(at, status, error[:MAX_ERROR_LENGTH], duration_ms)

    def _post(self, delivery: Delivery, url: str, secret: str, at: datetime) -> tuple[int, str]:
        try:
            target = self._policy.parse(url)
            addresses = self._policy.addresses(target, self._resolver)
        except RefusedTarget as refused:
            return 0, f"refused target: {refused}"
        except OSError:
            return 0, "host not found"
        body = delivery.payload.encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Host": target.host_header,
            SIGNATURE_HEADER: sign(secret, body, at),
            "Gantry-Event-Id": delivery.event_id,
            "Gantry-Event-Type": delivery.event_type,
        }
        failure: httpx.HTTPError | None = None
        for address in addresses:
            try:
                status = self._request(target, address, body, headers)
            except (httpx.ConnectError, httpx.ConnectTimeout) as error:
                # As a browser would, the next address of the name before giving up.
                failure = error
                continue
            except httpx.HTTPError as error:
                return 0, describe(error)
            return status, _status_error(status)
        assert failure is not None, "a target has at least one address"
        return 0, describe(failure)

    def _request(self, target: Target, address: IPAddress, body: bytes, headers: dict[str, str]) -> int:
        host = f"[{address}]" if address.version == 6 else str(address)
        url = f"{target.scheme}://{host}:{target.port}{target.path}"
        named = target.scheme == "https" and target.address is None
        extensions = {"sni_hostname": target.host} if named else {}
        with (
            httpx.Client(
                verify=self._tls, timeout=self._timeout, follow_redirects=False, trust_env=False
            ) as client,
            client.stream("POST", url, content=body, headers=headers, extensions=extensions) as answer,
        ):
            read = 0
            for chunk in answer.iter_raw():
                read += len(chunk)
                if read >= MAX_ANSWER_BYTES:
                    break
            return answer.status_code


def _status_error(status: int) -> str:
    if 200 <= status < 300:
        return ""
    if 300 <= status < 400:
        return f"HTTP {status}: redirects are not followed"
    return f"HTTP {status}"


def describe(error: httpx.HTTPError) -> str:
    """Why a request got no answer, in the words of `DeliveryAttempt.error`."""
    if isinstance(error, httpx.TimeoutException):
        return "timeout"
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, ssl.SSLError):
            return f"TLS: {cause}"
        cause = cause.__cause__ or cause.__context__
    if isinstance(error, httpx.ConnectError):
        return f"connection failed: {error}"
    return f"{type(error).__name__}: {error}"
