"""A real SMTP server for tests of the console's mail: aiosmtpd on this machine, offering
STARTTLS with a certificate of its own authority (written for the client to trust) and
requiring a login once encrypted, keeping every message it accepts."""

from __future__ import annotations

import re
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from email.policy import default
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.support.mqtt import self_signed_pair
from tests.support.platform import free_port
from tests.support.waiting import eventually

USER = "gantry-mail"
PASSWORD = "mail-relay-password"


@dataclass
class Mailbox:
    host: str
    port: int
    ca_file: Path
    messages: list[Message] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def env(self) -> dict[str, str]:
        """The console's settings that send its mail here."""
        return {
            "GANTRY_SMTP_HOST": self.host,
            "GANTRY_SMTP_PORT": str(self.port),
            "GANTRY_SMTP_USER": USER,
            "GANTRY_SMTP_PASSWORD": PASSWORD,
            "GANTRY_SMTP_FROM": "Gantry <console@gantry.test>",
            "GANTRY_SMTP_CA_FILE": str(self.ca_file),
        }

    def to(self, address: str) -> list[Message]:
        with self.lock:
            return [m for m in self.messages if m["To"] == address]

    def link_to(self, address: str, path: str, timeout: float = 10) -> str:
        """The first link of the console's `path` in a message that reached `address`."""
        found: list[str] = []

        def arrived() -> bool:
            for message in self.to(address):
                body = message.get_content()
                found.extend(re.findall(rf"https?://\S+{re.escape(path)}\S*", body))
            return bool(found)

        eventually(arrived, timeout, f"a mail to {address} with a link to {path}")
        return found[0]


class _Keeper:
    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox = mailbox

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.mailbox.lock:
            self.mailbox.messages.append(message_from_bytes(envelope.content, policy=default))
        return "250 OK"


def _authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    good = (
        isinstance(data, LoginPassword) and data.login.decode() == USER and data.password.decode() == PASSWORD
    )
    return AuthResult(success=good)


@contextmanager
def running_mailbox(directory: Path) -> Iterator[Mailbox]:
    cert_file, key_file = self_signed_pair(directory)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert_file, key_file)
    mailbox = Mailbox("127.0.0.1", free_port(), cert_file)
    controller = Controller(
        _Keeper(mailbox),
        hostname=mailbox.host,
        port=mailbox.port,
        tls_context=tls,
        require_starttls=True,
        authenticator=_authenticate,
        auth_require_tls=True,
        server_hostname="localhost",
    )
    controller.start()
    try:
        yield mailbox
    finally:
        controller.stop()
