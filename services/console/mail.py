"""The console's e-mail: invitations, password resets and sign-up confirmations, sent by
SMTP with STARTTLS (`GANTRY_SMTP_HOST`, `_PORT`, `_USER`, `_PASSWORD`, `_FROM`, and
`GANTRY_SMTP_CA_FILE` for a relay of a private authority). Without a host, as under
`make run`, a message is written to the log at INFO instead, so its link can be followed."""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage

from starlette.concurrency import run_in_threadpool

from services.kit.settings import env

log = logging.getLogger(__name__)

SMTP_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class MailSettings:
    host: str
    port: int
    user: str
    password: str
    sender: str
    ca_file: str

    @classmethod
    def from_env(cls) -> MailSettings:
        return cls(
            host=env("SMTP_HOST", ""),
            port=int(env("SMTP_PORT", "587")),
            user=env("SMTP_USER", ""),
            password=env("SMTP_PASSWORD", ""),
            sender=env("SMTP_FROM", "Gantry <gantry@localhost>"),
            ca_file=env("SMTP_CA_FILE", ""),
        )


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    body: str


class Mailer:
    def __init__(self, settings: MailSettings) -> None:
        self.settings = settings

    @property
    def configured(self) -> bool:
        return bool(self.settings.host)

    async def send(self, mail: Mail) -> bool:
        """Sends `mail` without holding up the event loop (smtplib blocks); False when the
        relay could not take it (logged), so that a page can say so instead of failing."""
        if not self.configured:
            log.info("no SMTP host set: mail to %s not sent\n%s\n\n%s", mail.to, mail.subject, mail.body)
            return True
        try:
            await run_in_threadpool(self._send, mail)
        except (OSError, smtplib.SMTPException):
            log.exception("mail to %s could not be sent through %s", mail.to, self.settings.host)
            return False
        return True

    def _send(self, mail: Mail) -> None:
        message = EmailMessage()
        message["From"] = self.settings.sender
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message.set_content(mail.body)
        context = ssl.create_default_context(cafile=self.settings.ca_file or None)
        with smtplib.SMTP(self.settings.host, self.settings.port, timeout=SMTP_TIMEOUT_SECONDS) as smtp:
            # Never in clear: a relay that offers no STARTTLS is refused (SMTPNotSupportedError).
            smtp.starttls(context=context)
            if self.settings.user:
                smtp.login(self.settings.user, self.settings.password)
            smtp.send_message(message)
        log.info("mail sent", extra={"to": mail.to, "subject": mail.subject})
