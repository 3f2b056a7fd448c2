"""The console's people pages against forged forms, fixed sessions, injected markup,
password guessing, disabled users and other tenants, over HTTP with real sessions of the
registry's PeopleService (the pages' processes are those of the browser tests)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from http.cookies import SimpleCookie

import httpx
import pytest
from gantry.v1 import people_pb2, people_pb2_grpc
from starlette.routing import Route

from services.console.app import create_app
from services.console.settings import ConsoleSettings
from tests.browser.conftest import PeopleServers
from tests.support.console_people import (
    OPERATOR,
    new_operator,
    new_tenant_admin,
    new_user,
    people_client,
    session_token,
    unique_email,
)

SETTINGS = ConsoleSettings("127.0.0.1", 0, True, "http://gateway.test/docs", "UTC", "http://console.test")
# The language switch is the one POST route anyone may send from anywhere: it only sets a preference.
NOT_FORMS_OF_PEOPLE = {"/language"}
# Routes that name a user or a sign-up.
PLACEHOLDER_ID = "00000000-0000-0000-0000-000000000000"
PRE_SESSION = {
    "/sign-in",
    "/sign-in/code",
    "/sign-up",
    "/sign-up/confirm",
    "/invitations/accept",
    "/password-reset",
}


@pytest.fixture(scope="module")
def people(people_servers: PeopleServers) -> Iterator[people_pb2_grpc.PeopleServiceStub]:
    with people_client(people_servers.registry) as client:
        yield client


@pytest.fixture
def console(people_servers: PeopleServers) -> Iterator[httpx.Client]:
    # Cookies are sent by hand: they are Secure, and the test talks plain HTTP to 127.0.0.1.
    with httpx.Client(base_url=people_servers.console, follow_redirects=False, timeout=10) as client:
        yield client


def cookies_set(response: httpx.Response) -> dict[str, str]:
    """Each cookie the answer sets, with its attributes as sent."""
    return {header.split("=", 1)[0]: header for header in response.headers.get_list("set-cookie")}


def cookie_value(response: httpx.Response, name: str) -> str:
    jar = SimpleCookie()
    jar.load(cookies_set(response)[name])
    return jar[name].value


def hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no hidden field {name}"
    return found[1]


def form_cookie(console: httpx.Client) -> tuple[str, str]:
    """The double-submit cookie of forms before a session, and the token its page carries."""
    page = console.get("/sign-in")
    return cookie_value(page, "gantry_form"), hidden(page.text, "form_token")


def csrf_of(console: httpx.Client, token: str) -> str:
    return hidden(console.get("/account", headers=session(token)).text, "csrf_token")


def session(token: str, form: str = "") -> dict[str, str]:
    cookie = f"gantry_session={token}" + (f"; gantry_form={form}" if form else "")
    return {"Cookie": cookie}


def post_routes() -> list[str]:
    """Every POST route of the console's application, as it is wired."""
    app = create_app(SETTINGS).app  # type: ignore[attr-defined]
    return sorted(
        re.sub(r"\{\w+\}", PLACEHOLDER_ID, route.path)
        for route in app.routes
        if isinstance(route, Route) and "POST" in (route.methods or set())
    )


def test_every_post_route_refuses_a_missing_or_wrong_token(
    console: httpx.Client, people: people_pb2_grpc.PeopleServiceStub
) -> None:
    routes = [path for path in post_routes() if path not in NOT_FORMS_OF_PEOPLE]
    assert {"/sign-in", "/sign-out", "/settings/people/invitations", "/account/two-factor"} <= set(routes)
    operator = session_token(people, new_operator(people))
    admin = session_token(people, new_tenant_admin(people))
    form, _ = form_cookie(console)
    for path in routes:
        token = operator if path.startswith("/operator/") else admin
        for field in ({"note": "no token"}, {"csrf_token": "forged", "form_token": "forged"}):
            answer = console.post(path, data=field, headers=session(token, form))
            assert answer.status_code == 403, f"{path} with {field}: {answer.status_code}"
            assert "content-security-policy" in answer.headers
    # Nothing happened: both sessions are alive.
    for token in (operator, admin):
        people.ResolveSession(people_pb2.ResolveSessionRequest(token=token))


def test_pre_session_forms_refuse_a_token_without_its_cookie(console: httpx.Client) -> None:
    _, token = form_cookie(console)
    for path in PRE_SESSION:
        answer = console.post(path, data={"form_token": token})
        assert answer.status_code == 403, path


def test_signing_in_makes_a_new_session_and_ends_the_one_brought(
    console: httpx.Client, people: people_pb2_grpc.PeopleServiceStub
) -> None:
    person = new_user(people, new_tenant_admin(people))
    planted = session_token(people, new_user(people, new_tenant_admin(people)))
    form, token = form_cookie(console)
    answer = console.post(
        "/sign-in",
        data={"email": person.email, "password": person.password, "form_token": token, "next": "/account"},
        headers=session(planted, form),
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/account"
    issued = cookie_value(answer, "gantry_session")
    assert issued != planted
    principal = people.ResolveSession(people_pb2.ResolveSessionRequest(token=issued))
    assert principal.user.id == person.user.id
    with pytest.raises(Exception, match="session is invalid or expired"):
        people.ResolveSession(people_pb2.ResolveSessionRequest(token=planted))


def test_cookie_flags(console: httpx.Client, people: people_pb2_grpc.PeopleServiceStub) -> None:
    person = new_user(people, new_tenant_admin(people))
    page = console.get("/sign-in")
    form_flags = cookies_set(page)["gantry_form"].lower()
    assert all(flag in form_flags for flag in ("httponly", "secure", "samesite=strict", "path=/"))
    form, token = cookie_value(page, "gantry_form"), hidden(page.text, "form_token")
    answer = console.post(
        "/sign-in",
        data={"email": person.email, "password": person.password, "form_token": token},
        headers={"Cookie": f"gantry_form={form}"},
    )
    assert answer.headers["location"] == "/overview"
    flags = cookies_set(answer)["gantry_session"].lower()
    assert all(flag in flags for flag in ("httponly", "secure", "samesite=lax", "path=/", "max-age=604800"))


def test_a_next_of_another_site_is_not_followed(
    console: httpx.Client, people: people_pb2_grpc.PeopleServiceStub
) -> None:
    person = new_user(people, new_tenant_admin(people))
    for target in ("//evil.example", "https://evil.example/", "/\\evil.example", "/\t/evil.example"):
        form, token = form_cookie(console)
        answer = console.post(
            "/sign-in",
            data={"email": person.email, "password": person.password, "form_token": token, "next": target},
            headers={"Cookie": f"gantry_form={form}"},
        )
        assert answer.headers["location"] == "/overview", target


def test_every_page_carries_the_policy(
    console: httpx.Client, people: people_pb2_grpc.PeopleServiceStub
) -> None:
    admin = session_token(people, new_tenant_admin(people))
    operator = session_token(people, new_operator(people))
    pages = {
        "/sign-in": "",
        "/sign-up": "",
        "/sign-up/confirm?token=x": "",
        "/invitations/accept?token=x": "",
        "/password-reset?token=x": "",
        "/account": admin,
        "/settings/people": admin,
        "/operator/sign-ups": operator,
    }
    for path, token in pages.items():
        answer = console.get(path, headers=session(token) if token else {})
        assert answer.status_code == 200, path
        policy = answer.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy, path


def test_names_are_shown_escaped(console: httpx.Client, people: people_pb2_grpc.PeopleServiceStub) -> None:
    payload = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    admin = new_tenant_admin(people, company=payload)
    new_user(people, admin, name=payload)
    page = console.get("/settings/people", headers=session(session_token(people, admin))).text
    assert payload not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    # A company's name, as its confirmed sign-up shows it.
    started = people.StartSignUp(
        people_pb2.StartSignUpRequest(
            company_name=payload,
            country="CN",
            size_class=2,
            admin_email=unique_email("xss"),
            admin_name=payload,
            password="correct horse battery",
            client_address="192.0.2.77",
        )
    )
    form, token = form_cookie(console)
    done = console.post(
        "/sign-up/confirm",
        data={"token": started.confirmation_token, "form_token": token},
        headers={"Cookie": f"gantry_form={form}"},
    )
    assert done.status_code == 200
    assert payload not in done.text
    assert "&lt;script&gt;" in done.text
    # And as the operator's sign-ups list it.
    listing = console.get("/operator/sign-ups", headers=session(session_token(people, new_operator(people))))
    assert started.id in listing.text
    assert payload not in listing.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in listing.text


def test_guessing_passwords_is_throttled(
    console: httpx.Client, people: people_pb2_grpc.PeopleServiceStub
) -> None:
    person = new_user(people, new_tenant_admin(people))
    form, token = form_cookie(console)
    statuses = []
    for _ in range(6):
        answer = console.post(
            "/sign-in",
            data={"email": person.email, "password": "not the password", "form_token": token},
            headers={"Cookie": f"gantry_form={form}"},
        )
        statuses.append(answer.status_code)
    assert statuses == [401] * 5 + [429]
    assert 0 < int(answer.headers["retry-after"]) <= 15 * 60
    assert "Too many attempts. Try again in 15 min." in answer.text
    # Even the right password waits.
    right = console.post(
        "/sign-in",
        data={"email": person.email, "password": person.password, "form_token": token},
        headers={"Cookie": f"gantry_form={form}"},
    )
    assert right.status_code == 429


def test_a_disabled_user_is_sent_to_sign_in_at_once(
    console: httpx.Client, people: people_pb2_grpc.PeopleServiceStub
) -> None:
    admin = new_tenant_admin(people)
    person = new_user(people, admin)
    token = session_token(people, person)
    assert console.get("/account", headers=session(token)).status_code == 200
    people.SetUserStatus(
        people_pb2.SetUserStatusRequest(
            actor=admin.actor, user_id=person.user.id, status=people_pb2.USER_STATUS_DISABLED
        )
    )
    answer = console.get("/account", headers=session(token))
    assert answer.status_code == 303
    assert answer.headers["location"] == "/sign-in?next=%2Faccount"


def test_an_admin_cannot_act_on_another_tenants_user(
    console: httpx.Client, people: people_pb2_grpc.PeopleServiceStub
) -> None:
    admin_a = new_tenant_admin(people, company="Tenant A")
    admin_b = new_tenant_admin(people, company="Tenant B")
    victim = new_user(people, admin_b, role=people_pb2.ROLE_VIEWER)
    token = session_token(people, admin_a)
    csrf = csrf_of(console, token)
    base = f"/settings/people/users/{victim.user.id}"
    forms = {
        f"{base}/status": {"status": "disabled"},
        f"{base}/role": {"role": "ROLE_ADMIN"},
        f"{base}/password-reset": {},
        f"{base}/two-factor-reset": {},
    }
    for path, fields in forms.items():
        answer = console.post(path, data={"csrf_token": csrf, **fields}, headers=session(token))
        assert answer.status_code == 404, path
        assert "No such user." in answer.text
        assert victim.email not in answer.text
    page = console.get("/settings/people", headers=session(token)).text
    assert victim.email not in page
    seen = people.GetUser(people_pb2.GetUserRequest(actor=OPERATOR, user_id=victim.user.id))
    assert (seen.status, seen.role, seen.version) == (
        people_pb2.USER_STATUS_ACTIVE,
        people_pb2.ROLE_VIEWER,
        victim.user.version,
    )
    people.ResolveSession(people_pb2.ResolveSessionRequest(token=session_token(people, victim)))


def test_signing_out_everywhere_ends_every_session(
    console: httpx.Client, people: people_pb2_grpc.PeopleServiceStub
) -> None:
    person = new_user(people, new_tenant_admin(people))
    here, elsewhere = session_token(people, person), session_token(people, person)
    answer = console.post(
        "/sign-out/everywhere", data={"csrf_token": csrf_of(console, here)}, headers=session(here)
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/sign-in?notice=signed_out"
    assert "max-age=0" in cookies_set(answer)["gantry_session"].lower()
    for token in (here, elsewhere):
        assert console.get("/account", headers=session(token)).status_code == 303


def test_wrong_input_is_told_field_by_field(
    console: httpx.Client, people: people_pb2_grpc.PeopleServiceStub
) -> None:
    form, token = form_cookie(console)
    answer = console.post(
        "/sign-up",
        data={
            "form_token": token,
            "company_name": "Short Password Works",
            "country": "CN",
            "size_class": "small",
            "admin_name": "Sam",
            "admin_email": unique_email("weak"),
            "password": "short",
        },
        headers={"Cookie": f"gantry_form={form}"},
    )
    assert answer.status_code == 400
    assert "Use 10 to 128 characters, and not your e-mail address." in answer.text
    assert 'id="password" name="password"' in answer.text and 'aria-invalid="true"' in answer.text
    # The other fields are kept.
    assert 'value="Short Password Works"' in answer.text
    admin = session_token(people, new_tenant_admin(people))
    invited = console.post(
        "/settings/people/invitations",
        data={
            "csrf_token": csrf_of(console, admin),
            "email": "not an address",
            "name": "N",
            "role": "ROLE_VIEWER",
        },
        headers=session(admin),
    )
    assert invited.status_code == 400
    assert "Enter a valid e-mail address." in invited.text


def test_a_cursor_of_someones_making_starts_from_the_first_page(
    console: httpx.Client, people: people_pb2_grpc.PeopleServiceStub
) -> None:
    admin = session_token(people, new_tenant_admin(people))
    answer = console.get("/settings/people?after=not-a-cursor", headers=session(admin))
    assert answer.status_code == 303
    assert answer.headers["location"] == "/settings/people"
