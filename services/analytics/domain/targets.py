"""Where a webhook may send: the URL policy.

A tenant names the URL, and the platform makes the request from inside its own network:
without a policy, a webhook would reach whatever the platform reaches (its databases,
the cloud's metadata service at 169.254.169.254). So a URL is https (http only where the
operator allows it), carries no credentials, and its target is a public address unless
the operator allows private ones (a development machine, a closed plant network).

The target is checked twice. When a subscription is created: its host as written,
an address in any spelling (2130706433, 0x7f.1, 0177.0.0.1, [::ffff:127.0.0.1]) or the
addresses its name resolves to then. Before each delivery: every address the name
resolves to at that moment, and the sender connects to one of those very addresses
without resolving again, so that a name pointed elsewhere after the check (DNS
rebinding) still reaches only what was checked.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network
from urllib.parse import urlsplit

IPAddress = IPv4Address | IPv6Address
# The addresses of a host name and port, in the order to try them.
Resolver = Callable[[str, int], list[str]]

MAX_URL_LENGTH = 2048
DEFAULT_PORTS = {"https": 443, "http": 80}

_SHARED = ip_network("100.64.0.0/10")
_NAT64 = ip_network("64:ff9b::/96")
_NUMBER = re.compile(r"0x[0-9a-f]*|[0-9]+")
_LABEL = re.compile(r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?")
_SPACE_OR_CONTROL = re.compile(r"[\x00-\x20\x7f]")


class RefusedTarget(Exception):
    """A URL or address the policy refuses; its message says why, to the tenant."""


@dataclass(frozen=True)
class Target:
    """A checked URL's parts as the sender uses them."""

    scheme: str
    # A name in lower case, or an address in its canonical form.
    host: str
    port: int
    # The host, when it is an address rather than a name.
    address: IPAddress | None
    # The path and query, as the request line sends them.
    path: str

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if isinstance(self.address, IPv6Address) else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"


def resolve(host: str, port: int) -> list[str]:
    """The system resolver's addresses of `host`, once each, in its order of preference;
    OSError when it has none."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in found))


@dataclass(frozen=True)
class UrlPolicy:
    allow_http: bool = False
    allow_private: bool = False

    def refusal(self, url: str, resolver: Resolver = resolve) -> str | None:
        """Why a subscription may not send to `url`, or None when it may. A name that
        does not resolve yet is allowed: each delivery checks what it resolves to then."""
        try:
            target = self.parse(url)
            with suppress(OSError):
                self.addresses(target, resolver)
        except RefusedTarget as refused:
            return str(refused)
        return None

    def parse(self, url: str) -> Target:
        """The parts of `url`, its host checked as written; RefusedTarget when the policy
        refuses it."""
        if len(url) > MAX_URL_LENGTH:
            raise RefusedTarget(f"at most {MAX_URL_LENGTH} characters")
        if _SPACE_OR_CONTROL.search(url):
            raise RefusedTarget("must not contain spaces or control characters")
        try:
            parts = urlsplit(url)
        except ValueError:
            raise RefusedTarget("not a valid URL") from None
        scheme = self._scheme(parts.scheme.lower())
        if "@" in parts.netloc:
            raise RefusedTarget("must not carry credentials")
        if not parts.hostname:
            raise RefusedTarget("must name a host")
        try:
            port = parts.port
        except ValueError:
            port = 0
        if port == 0:
            raise RefusedTarget("not a valid port")
        address = _literal_address(parts.hostname, bracketed="[" in parts.netloc)
        if address is not None:
            self._check(address, "must not target")
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host = str(address) if address is not None else parts.hostname.removesuffix(".")
        return Target(scheme, host, port or DEFAULT_PORTS[scheme], address, path)

    def addresses(self, target: Target, resolver: Resolver = resolve) -> list[IPAddress]:
        """The addresses to connect to for `target`, every one of them checked;
        RefusedTarget when its name resolves to any address refused, OSError when it
        resolves to none."""
        if target.address is not None:
            return [target.address]
        found = [ip_address(address) for address in resolver(target.host, target.port)]
        if not found:
            raise OSError(f"{target.host} has no address")
        for address in found:
            self._check(address, f"{target.host} resolves to")
        return found

    def _scheme(self, scheme: str) -> str:
        allowed = ("https", "http") if self.allow_http else ("https",)
        if scheme in allowed:
            return scheme
        if scheme == "http":
            raise RefusedTarget("must be an https URL: http is not allowed here")
        raise RefusedTarget(f"must be an {' or '.join(allowed)} URL")

    def _check(self, address: IPAddress, prefix: str) -> None:
        kind = None if self.allow_private else non_public_kind(address)
        if kind is not None:
            article = "an" if kind[0] in "aeiou" else "a"
            raise RefusedTarget(f"{prefix} {article} {kind} address ({_shown(address)})")


def non_public_kind(address: IPAddress) -> str | None:
    """What makes `address` no public one ("loopback", "private", ...), or None when it
    is public. An IPv6 address carrying an IPv4 one (mapped, 6to4, NAT64) is judged by
    the IPv4 address, which is where it leads."""
    if isinstance(address, IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return non_public_kind(embedded)
    for kind, applies in _KINDS:
        if applies(address):
            return kind
    return None if address.is_global else "non-public"


_KINDS: tuple[tuple[str, Callable[[IPAddress], bool]], ...] = (
    ("unspecified", lambda a: a.is_unspecified),
    ("loopback", lambda a: a.is_loopback),
    ("link-local", lambda a: a.is_link_local),
    ("multicast", lambda a: a.is_multicast),
    ("shared (carrier-grade NAT)", lambda a: a.version == 4 and a in _SHARED),
    ("reserved", lambda a: a.is_reserved),
    ("private", lambda a: a.is_private or getattr(a, "is_site_local", False)),
)


def _embedded_ipv4(address: IPv6Address) -> IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _shown(address: IPAddress) -> str:
    """An address as people write it: an IPv4-mapped one with its IPv4 part dotted."""
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return f"::ffff:{address.ipv4_mapped}"
    return str(address)


def _literal_address(host: str, bracketed: bool) -> IPAddress | None:
    """The address `host` spells, or None when it is a name; RefusedTarget when it is
    neither a valid address nor a valid name."""
    if bracketed:
        try:
            return IPv6Address(host)
        except ValueError:
            raise RefusedTarget("not a valid IPv6 address") from None
    labels = host.removesuffix(".").split(".")
    # As browsers read hosts: one whose last label is a number is an address, and every
    # form inet_aton(3) takes is one (127.1, 2130706433, 0x7f.0.0.1, 0177.0.0.1).
    if _NUMBER.fullmatch(labels[-1]):
        return _ipv4_of_numbers(labels)
    if len(host) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise RefusedTarget("not a valid host name")
    return None


def _ipv4_of_numbers(labels: list[str]) -> IPv4Address:
    try:
        numbers = [_number(label) for label in labels]
    except ValueError:
        raise RefusedTarget("not a valid IPv4 address") from None
    *leading, last = numbers
    if len(numbers) > 4 or any(n > 255 for n in leading) or last >= 256 ** (5 - len(numbers)):
        raise RefusedTarget("not a valid IPv4 address")
    value = sum(n << (8 * (3 - i)) for i, n in enumerate(leading)) + last
    return IPv4Address(value)


def _number(label: str) -> int:
    if label.startswith("0x"):
        return int(label[2:] or "0", 16)
    if len(label) > 1 and label.startswith("0"):
        return int(label, 8)
    return int(label)
