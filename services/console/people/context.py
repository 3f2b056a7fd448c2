"""What the people pages share: rendering (with the form token of forms filled before a
session), the session cookie, mail in the reader's language, and PeopleService calls whose
refusals become pages."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, TypeVar

from gantry.v1 import common_pb2, people_pb2
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from services.console.forms import FormTokens, client_address
from services.console.mail import Mail, Mailer
from services.console.pages import Pages
from services.console.people.refusals import Refusal, attempt
from services.console.security import Cookies
from services.console.sessions import CALL_TIMEOUT_SECONDS, SESSION_COOKIE, SESSION_COOKIE_SECONDS
from services.kit.grpc_clients import Backends

T = TypeVar("T")
# Where a person goes once signed in, unless a page sent them to sign in; an operator, who
# has no plant, to the tenants.
HOME = "/overview"
OPERATOR_HOME = "/operator/tenants"
MAX_CURSOR_LENGTH = 512


def page_of(request: Request, size: int) -> common_pb2.PageRequest:
    """The page of a list the request asks for: `size` items after its `after` cursor."""
    return common_pb2.PageRequest(
        page_size=size, cursor=request.query_params.get("after", "")[:MAX_CURSOR_LENGTH]
    )


@dataclass(frozen=True)
class PeopleContext:
    pages: Pages
    cookies: Cookies
    backends: Backends
    mailer: Mailer
    forms: FormTokens
    # The console's address as people reach it, for the links of mails.
    console_url: str

    @property
    def people(self) -> Any:
        return self.backends.people

    async def call(self, answer: Awaitable[T]) -> T | Refusal:
        """A PeopleService call's answer, or its refusal when a person's input or situation
        explains it."""
        return await attempt(answer)

    def timeout(self) -> float:
        return CALL_TIMEOUT_SECONDS

    def render(self, request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        return self.pages.render(request, template, status, **context)

    def render_form(self, request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        """A page of a form filled before a session: it carries the double-submit token."""
        token = self.forms.token_of(request)
        response = self.pages.render(request, template, status, form_token=token, **context)
        self.forms.keep(response, token)
        return response

    def refused(self, request: Request, template: str, refusal: Refusal, **context: Any) -> HTMLResponse:
        response = self.render_form(request, template, refusal.status, refusal=refusal, **context)
        response.headers.update(refusal.headers)
        return response

    async def start_session(self, request: Request, session: people_pb2.Session, target: str) -> Response:
        """Sends the person to `target` with the new session's cookie, in place of whatever
        session cookie the browser brought (which ends: no session is fixed in advance)."""
        if target == HOME and not session.principal.tenant_id:
            target = OPERATOR_HOME
        brought = request.cookies.get(SESSION_COOKIE, "")
        if brought and brought != session.token:
            await self.call(
                self.people.SignOut(people_pb2.SignOutRequest(token=brought), timeout=self.timeout())
            )
        response = RedirectResponse(target, status_code=303)
        self.cookies.set(response, SESSION_COOKIE, session.token, SESSION_COOKIE_SECONDS)
        return response

    def link(self, path: str) -> str:
        return f"{self.console_url.rstrip('/')}{path}"

    async def mail(self, request: Request, template: str, to: str, **context: Any) -> bool:
        """Renders a mail (its first line the subject) in the reader's language and sends it;
        False when the relay did not take it."""
        language = self.pages.language_of(request)
        text = self.pages.environments[language.code].get_template(template).render(**context)
        subject, _, body = text.strip().partition("\n")
        return await self.mailer.send(Mail(to=to, subject=subject.strip(), body=body.strip() + "\n"))

    @staticmethod
    def notice(request: Request, known: frozenset[str]) -> str:
        """The notice another page sent the reader here with, when it is one this page words."""
        notice = request.query_params.get("notice", "")
        return notice if notice in known else ""

    def address(self, request: Request) -> str:
        return client_address(request)
