"""The console's mailer against a real SMTP server: STARTTLS, a login, the message as sent;
and the log in place of mail when no server is set."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from services.console.mail import Mail, Mailer, MailSettings
from tests.support.mailbox import Mailbox, running_mailbox


@pytest.fixture
def mailbox(tmp_path: Path) -> Iterator[Mailbox]:
    with running_mailbox(tmp_path) as running:
        yield running


def deliver(sending: Coroutine[Any, Any, bool]) -> bool:
    """Runs a send on a loop of its own thread: other tests of the session (the browser's)
    may hold a running loop in this one."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, sending).result()


def settings_of(mailbox: Mailbox, **changes: str) -> MailSettings:
    fields = {
        "host": mailbox.host,
        "port": mailbox.port,
        "user": "gantry-mail",
        "password": "mail-relay-password",
        "sender": "Gantry <console@gantry.test>",
        "ca_file": str(mailbox.ca_file),
        **changes,
    }
    return MailSettings(**fields)  # type: ignore[arg-type]


def test_a_mail_arrives_over_starttls_with_a_login(mailbox: Mailbox) -> None:
    body = "Accept it: https://console.test/invitations/accept?token=abc&x=1\n"
    assert deliver(Mailer(settings_of(mailbox)).send(Mail("ed@example.test", "You are invited", body)))
    [message] = mailbox.to("ed@example.test")
    assert message["Subject"] == "You are invited"
    assert message["From"] == "Gantry <console@gantry.test>"
    assert message.get_content().replace("\r\n", "\n") == body
    assert mailbox.link_to("ed@example.test", "/invitations/accept") == (
        "https://console.test/invitations/accept?token=abc&x=1"
    )


def test_a_relay_whose_certificate_is_not_trusted_gets_nothing(
    mailbox: Mailbox, caplog: pytest.LogCaptureFixture
) -> None:
    mailer = Mailer(settings_of(mailbox, ca_file=""))
    assert deliver(mailer.send(Mail("ed@example.test", "s", "b"))) is False
    assert "certificate verify failed" in caplog.text
    assert mailbox.to("ed@example.test") == []


def test_without_a_host_the_mail_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    mailer = Mailer(MailSettings("", 587, "", "", "Gantry <g@localhost>", ""))
    assert not mailer.configured
    with caplog.at_level(logging.INFO, logger="services.console.mail"):
        deliver(mailer.send(Mail("ed@example.test", "Reset", "https://console.test/password-reset?token=t")))
    assert "https://console.test/password-reset?token=t" in caplog.text
    assert "ed@example.test" in caplog.text
