"""People's pages in a browser: signing in and out, the second factor, invitations, sign-up,
the people settings and the account, with real sessions of the registry's PeopleService."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pyotp
import pytest
from gantry.v1 import people_pb2, people_pb2_grpc, registry_pb2
from playwright.sync_api import Page, expect

from tests.browser.conftest import PeopleServers, Watch, check_page, with_session
from tests.support.console_people import (
    OPERATOR,
    PASSWORD,
    Person,
    enrolled,
    new_operator,
    new_tenant_admin,
    new_user,
    people_client,
    session_token,
    unique_email,
)


@pytest.fixture(scope="module")
def people(people_servers: PeopleServers) -> Iterator[people_pb2_grpc.PeopleServiceStub]:
    with people_client(people_servers.registry) as client:
        yield client


@pytest.fixture(scope="module")
def admin(people: people_pb2_grpc.PeopleServiceStub) -> Person:
    return new_tenant_admin(people)


def sign_in(page: Page, console: str, person: Person, password: str | None = None) -> None:
    page.goto(f"{console}/sign-in")
    page.get_by_label("E-mail address").fill(person.email)
    page.get_by_label("Password").fill(password or person.password)
    page.get_by_role("button", name="Sign in").last.click()


@pytest.fixture
def console(people_servers: PeopleServers, watch: Watch) -> str:
    """The people pages' console. Signing in lands on the overview, which needs services this
    registry-api alone does not offer: its failure is expected."""
    watch.expected_failures.add(f"{people_servers.console}/overview")
    return people_servers.console


def test_sign_in_and_out(page: Page, console: str, admin: Person) -> None:
    page.goto(f"{console}/sign-in")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    check_page(page, "console-sign-in-en")
    sign_in(page, console, admin)
    page.wait_for_url(f"{console}/overview")
    session = next(c for c in page.context.cookies() if c["name"] == "gantry_session")
    assert session["httpOnly"] and session["secure"] and session["sameSite"] == "Lax"
    page.goto(f"{console}/account")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your account")
    check_page(page, "console-account-en")
    page.get_by_role("button", name="Sign out", exact=True).click()
    page.wait_for_url(f"{console}/sign-in?notice=signed_out")
    expect(page.get_by_role("status")).to_have_text("You are signed out.")
    assert all(c["name"] != "gantry_session" for c in page.context.cookies())
    page.goto(f"{console}/account")
    page.wait_for_url(f"{console}/sign-in?next=%2Faccount")


def test_an_operator_signs_in_to_the_tenants(
    page: Page, people_servers: PeopleServers, people: people_pb2_grpc.PeopleServiceStub
) -> None:
    sign_in(page, people_servers.console, new_operator(people))
    page.wait_for_url(f"{people_servers.console}/operator/tenants")
    expect(page.get_by_role("heading", level=1)).to_have_text("Tenants")


def test_a_wrong_password_is_told_as_an_unknown_email_is(
    page: Page, people_servers: PeopleServers, people: people_pb2_grpc.PeopleServiceStub, watch: Watch
) -> None:
    console = people_servers.console
    person = new_user(people, new_tenant_admin(people))
    for url in (f"{console}/sign-in",):
        watch.expected_failures.add(url)
    sign_in(page, console, person, password="not the password")
    expect(page.get_by_role("alert")).to_have_text("Wrong e-mail or password.")
    check_page(page, "console-sign-in-wrong-password")
    sign_in(page, console, Person(person.user, "nobody@nowhere.example.test"))
    expect(page.get_by_role("alert")).to_have_text("Wrong e-mail or password.")


def test_sign_in_with_a_second_factor(
    page: Page, console: str, people: people_pb2_grpc.PeopleServiceStub
) -> None:
    person = new_user(people, new_tenant_admin(people))
    authenticator = enrolled(people, person)
    sign_in(page, console, person)
    expect(page.get_by_role("heading", level=1)).to_have_text("Two-factor code")
    check_page(page, "console-sign-in-code")
    page.get_by_label("Code").fill(authenticator.now())
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(f"{console}/overview")
    assert any(c["name"] == "gantry_session" for c in page.context.cookies())


def test_the_sign_in_page_in_chinese(open_page: Callable[[str], Page], people_servers: PeopleServers) -> None:
    page = open_page("en-US")
    page.goto(f"{people_servers.console}/sign-in")
    page.get_by_role("button", name="简体中文").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("登录")
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hans-CN")
    check_page(page, "console-sign-in-zh")


def test_an_invited_person_accepts_and_signs_in(
    open_page: Callable[[str], Page],
    people_servers: PeopleServers,
    console: str,
    people: people_pb2_grpc.PeopleServiceStub,
) -> None:
    admin = new_tenant_admin(people, company="Invitations Ltd")
    page = with_session(open_page("en-US"), console, session_token(people, admin))
    page.goto(f"{console}/settings/people")
    expect(page.get_by_role("heading", level=1)).to_have_text("People")
    email = unique_email("invitee")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Name", exact=True).fill("Ina Invitee")
    page.get_by_label("Role", exact=True).select_option("ROLE_ENGINEER")
    page.get_by_role("button", name="Invite", exact=True).click()
    shown = page.locator("#issued-link").inner_text()
    check_page(page, "console-settings-people-invited")
    mailed = people_servers.mailbox.link_to(email, "/invitations/accept")
    assert mailed == shown

    invitee = open_page("en-US")
    invitee.goto(mailed)
    expect(invitee.get_by_role("heading", level=1)).to_have_text("Accept your invitation")
    check_page(invitee, "console-invitation")
    invitee.get_by_label("Password (at least 10 characters)").fill(PASSWORD)
    invitee.get_by_role("button", name="Accept and sign in").click()
    invitee.wait_for_url(f"{console}/overview")
    invitee.goto(f"{console}/account")
    expect(invitee.locator(".facts")).to_contain_text("Ina Invitee")
    expect(invitee.locator(".facts")).to_contain_text("Engineer")


def test_self_sign_up_by_mail_approved_by_the_operator(
    open_page: Callable[[str], Page],
    people_servers: PeopleServers,
    console: str,
    people: people_pb2_grpc.PeopleServiceStub,
) -> None:
    page = open_page("en-US")
    page.goto(f"{console}/sign-up")
    check_page(page, "console-sign-up")
    email = unique_email("founder")
    page.get_by_label("Company name").fill("<script>alert(1)</script> Works")
    page.get_by_label("Country").select_option("DE")
    page.get_by_label("Company size").select_option("medium")
    page.get_by_label("Your name").fill("Fay Founder")
    page.get_by_label("Your e-mail address").fill(email)
    page.get_by_label("Password (at least 10 characters)").fill(PASSWORD)
    page.get_by_role("button", name="Sign up", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your e-mail")
    check_page(page, "console-sign-up-sent")
    link = people_servers.mailbox.link_to(email, "/sign-up/confirm")
    page.goto(link)
    check_page(page, "console-sign-up-confirm")
    page.get_by_role("button", name="Confirm and create my company").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign-up confirmed")
    expect(page.locator("main")).to_contain_text(
        "Your sign-up of <script>alert(1)</script> Works is awaiting approval"
    )
    check_page(page, "console-sign-up-awaiting")

    operator = with_session(open_page("en-US"), console, session_token(people, new_operator(people)))
    operator.goto(f"{console}/operator/sign-ups")
    expect(operator.get_by_role("heading", level=1)).to_have_text("Sign-ups awaiting approval")
    check_page(operator, "console-operator-sign-ups")
    operator.get_by_role("button", name="Approve <script>alert(1)</script> Works").click()
    expect(operator.get_by_role("status")).to_contain_text("Approved")

    sign_in(page, console, Person(people_pb2.User(), email))
    page.wait_for_url(f"{console}/overview")


def test_the_operator_rejects_a_sign_up(
    page: Page, people_servers: PeopleServers, people: people_pb2_grpc.PeopleServiceStub
) -> None:
    started = people.StartSignUp(
        people_pb2.StartSignUpRequest(
            company_name="Refused Works",
            country="FR",
            size_class=registry_pb2.SIZE_CLASS_MICRO,
            admin_email=unique_email("refused"),
            admin_name="Rae Refused",
            password=PASSWORD,
            client_address="192.0.2.99",
        )
    )
    people.ConfirmSignUp(people_pb2.ConfirmSignUpRequest(token=started.confirmation_token))
    with_session(page, people_servers.console, session_token(people, new_operator(people)))
    page.goto(f"{people_servers.console}/operator/sign-ups")
    page.get_by_role("button", name="Reject Refused Works").click()
    expect(page.get_by_role("status")).to_contain_text("Rejected")
    expect(page.get_by_role("button", name="Reject Refused Works")).to_have_count(0)
    listed = people.ListSignUps(
        people_pb2.ListSignUpsRequest(actor=OPERATOR, status=people_pb2.SIGN_UP_STATUS_REJECTED)
    )
    assert started.id in {sign_up.id for sign_up in listed.sign_ups}


def test_enrolling_in_two_factor_from_the_account_page(
    page: Page, people_servers: PeopleServers, people: people_pb2_grpc.PeopleServiceStub
) -> None:
    console = people_servers.console
    person = new_user(people, new_tenant_admin(people))
    with_session(page, console, session_token(people, person))
    page.goto(f"{console}/account")
    page.get_by_role("button", name="Set up an authenticator app").click()
    uri = page.locator("#otpauth-uri").inner_text()
    assert uri.startswith("otpauth://totp/")
    assert (
        page.get_by_role("img", name="QR code of your authenticator key")
        .get_attribute("src")
        .startswith("data:image/svg+xml")
    )
    check_page(page, "console-account-enrolment")
    page.get_by_label("Code").fill(pyotp.parse_uri(uri).now())
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    expect(page.get_by_role("status")).to_contain_text("Two-factor sign-in is on")


def test_a_required_second_factor_sends_to_enrolment_from_every_page(
    page: Page, people_servers: PeopleServers, people: people_pb2_grpc.PeopleServiceStub, watch: Watch
) -> None:
    console = people_servers.console
    watch.expected_failures.add(f"{console}/settings/people")
    admin = new_tenant_admin(people)
    person = new_user(people, admin)
    people.SetTwoFactorRequired(people_pb2.SetTwoFactorRequiredRequest(actor=admin.actor, required=True))
    with_session(page, console, session_token(people, person))
    for path in ("/settings/people", "/overview", "/operator/sign-ups"):
        page.goto(f"{console}{path}")
        page.wait_for_url(f"{console}/account")
    expect(page.locator("main")).to_contain_text("Your company requires a second factor")
    page.get_by_role("button", name="Set up an authenticator app").click()
    page.get_by_label("Code").fill(pyotp.parse_uri(page.locator("#otpauth-uri").inner_text()).now())
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    expect(page.get_by_role("status")).to_contain_text("Two-factor sign-in is on")
    page.goto(f"{console}/settings/people")
    # Enrolled, with a new session of the role's scopes: a viewer's 403, not enrolment.
    expect(page.locator(".status")).to_have_text("Error 403")


def test_an_admin_manages_a_user_and_resets_their_password(
    open_page: Callable[[str], Page],
    people_servers: PeopleServers,
    console: str,
    people: people_pb2_grpc.PeopleServiceStub,
) -> None:
    admin = new_tenant_admin(people, company="Managed Ltd")
    person = new_user(people, admin, name="Mia Managed")
    enrolled(people, person)
    token = session_token(people, admin)
    # Requiring a second factor binds its admin too, at once.
    enrolled(people, admin)
    page = with_session(open_page("en-US"), console, token)
    page.goto(f"{console}/settings/people")
    page.locator("tr", has_text="Mia Managed").get_by_role("button", name="Reset second factor").click()
    expect(page.get_by_role("status")).to_have_text("Saved.")
    assert not people.GetUser(
        people_pb2.GetUserRequest(actor=admin.actor, user_id=person.user.id)
    ).two_factor_enrolled
    page.get_by_role("button", name="Require a second factor").click()
    expect(page.get_by_role("status")).to_have_text("Everyone now needs a second factor to sign in.")
    page.get_by_role("button", name="Make it optional").click()
    expect(page.get_by_role("status")).to_have_text("A second factor is now optional.")
    page.get_by_label("Role of Mia Managed").select_option("ROLE_ENGINEER")
    page.locator("form", has=page.get_by_label("Role of Mia Managed")).get_by_role("button").click()
    expect(page.get_by_role("status")).to_have_text("Saved.")
    page.get_by_role("button", name="Disable Mia Managed").click()
    expect(page.get_by_role("button", name="Enable Mia Managed")).to_be_visible()
    seen = people.GetUser(people_pb2.GetUserRequest(actor=admin.actor, user_id=person.user.id))
    assert (seen.role, seen.status) == (people_pb2.ROLE_ENGINEER, people_pb2.USER_STATUS_DISABLED)
    page.get_by_role("button", name="Enable Mia Managed").click()
    page.locator("tr", has_text="Mia Managed").get_by_role("button", name="Reset password").click()
    expect(page.get_by_role("status").first).to_contain_text("It was sent to them by e-mail.")
    check_page(page, "console-settings-people-reset")

    link = people_servers.mailbox.link_to(person.email, "/password-reset")
    user_page = open_page("en-US")
    user_page.goto(link)
    check_page(user_page, "console-password-reset")
    user_page.get_by_label("New password (at least 10 characters)").fill("a brand new passphrase")
    user_page.get_by_role("button", name="Set the new password").click()
    expect(user_page.get_by_role("status")).to_have_text("Your password is changed. Sign in with it.")
    sign_in(user_page, console, person, password="a brand new passphrase")
    user_page.wait_for_url(f"{console}/overview")


def test_an_open_sign_up_makes_the_company_at_once(
    page: Page, open_sign_up_servers: PeopleServers, watch: Watch
) -> None:
    console = open_sign_up_servers.console
    # Its overview needs services this registry-api alone does not offer.
    watch.expected_failures.add(f"{console}/overview")
    email = unique_email("opener")
    page.goto(f"{console}/sign-up")
    page.get_by_label("Company name").fill("Open Works")
    page.get_by_label("Country").select_option("CN")
    page.get_by_label("Your name").fill("Olu Opener")
    page.get_by_label("Your e-mail address").fill(email)
    page.get_by_label("Password (at least 10 characters)").fill(PASSWORD)
    page.get_by_role("button", name="Sign up", exact=True).click()
    page.goto(open_sign_up_servers.mailbox.link_to(email, "/sign-up/confirm"))
    page.get_by_role("button", name="Confirm and create my company").click()
    expect(page.locator("main")).to_contain_text("Open Works is ready, and you are its administrator.")
    assert page.locator("#api-key").inner_text().startswith("gnt_")
    check_page(page, "console-sign-up-ready")
    page.get_by_role("link", name="Sign in").last.click()
    expect(page.get_by_role("status")).to_contain_text("Your company is ready")
    sign_in(page, console, Person(people_pb2.User(), email))
    page.wait_for_url(f"{console}/overview")
    # Used once: the link confirms nothing more.
    watch.expected_failures.add(f"{console}/sign-up/confirm")
    page.goto(open_sign_up_servers.mailbox.link_to(email, "/sign-up/confirm"))
    page.get_by_role("button", name="Confirm and create my company").click()
    expect(page.get_by_role("alert")).to_have_text("This link is invalid or has expired. Sign up again.")
