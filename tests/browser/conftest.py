"""Browser tests: the console and the gateway as real processes on free ports, Debian's
Chromium driven by Playwright. Every request that would leave this machine is refused and
fails the test, as does any console error or Content-Security-Policy violation; every
page is photographed into var/screenshots/ and checked with axe-core."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pika
import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    Route,
    sync_playwright,
)

from services.kit.migrate import upgrade
from services.kit.web_assets import NODE_MODULES
from tests.support.backends import AMQP_URL, bus_namespace, postgres_database
from tests.support.mailbox import Mailbox, running_mailbox
from tests.support.plant import console_url
from tests.support.platform import ROOT, Platform, free_port, grpc_serving, procfile
from tests.support.waiting import eventually

CHROMIUM = Path("/usr/bin/chromium")
AXE = NODE_MODULES / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "var" / "screenshots"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}
# The browser's own background traffic is switched off rather than filtered.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
# Reports CSP violations as console errors, which fail the test, in every frame; injected
# by the browser itself, so the pages' policy does not apply to it.
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI || "inline"}`);
});
"""


@dataclass
class Servers:
    console: str
    gateway: str


@dataclass
class Watch:
    """What went wrong in a page: requests that would have left the machine, console
    errors (CSP violations among them), uncaught exceptions."""

    outside: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # Pages a test opens to see them fail (a 404 page), whose failure the browser logs.
    expected_failures: set[str] = field(default_factory=set)

    def console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and message.location.get("url") not in self.expected_failures:
            self.errors.append(f"{message.text} ({message.location.get('url')})")

    def assert_clean(self) -> None:
        assert self.outside == [], f"requests that would have left this machine: {self.outside}"
        assert self.errors == [], f"errors in the page: {self.errors}"


def _start(stack: ExitStack, name: str, env: dict[str, str], logs: Path) -> subprocess.Popen:
    """A process of the Procfile, as operators run it, stopped at the end of the session."""
    log = (logs / f"{name}.log").open("ab")
    process = subprocess.Popen(
        procfile()[name].split(), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    log.close()

    def stop() -> None:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    stack.callback(stop)
    return process


def _answers(url: str, process: subprocess.Popen, log: Path) -> bool:
    if process.poll() is not None:
        raise AssertionError(f"{url} exited with {process.returncode}:\n{log.read_text()[-3000:]}")
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    logs = tmp_path_factory.mktemp("browser-logs")
    gateway_port, console_port = free_port(), free_port()
    gateway = f"http://127.0.0.1:{gateway_port}"
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'generated'}",
        "GANTRY_GATEWAY_PORT": str(gateway_port),
        "GANTRY_CONSOLE_PORT": str(console_port),
        "GANTRY_CONSOLE_API_DOCS_URL": f"{gateway}/docs",
        "GANTRY_OPERATOR_TOKEN": "browser-test-operator-token",
        "GANTRY_METRICS_PORT": "0",
    }
    with ExitStack() as stack:
        started = {name: _start(stack, name, env, logs) for name in ("gateway", "console")}
        urls = {"gateway": gateway, "console": f"http://127.0.0.1:{console_port}"}
        for name, process in started.items():
            eventually(
                lambda n=name, p=process: _answers(f"{urls[n]}/healthz", p, logs / f"{n}.log"),
                30,
                f"{name} to answer",
            )
        yield Servers(console=urls["console"], gateway=gateway)


# Per module, not per session: Playwright's sync API keeps an event loop running in this
# thread while it lives, and the tests that follow the browser's (asyncio.run) need none.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run tools/browser.sh (make test does)")
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run make setup (npm ci)")
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield browser
    browser.close()


def _keep_local(watch: Watch):
    def handle(route: Route) -> None:
        host = urlsplit(route.request.url).hostname or ""
        if route.request.url.startswith(("data:", "blob:")) or host in LOCAL_HOSTS:
            route.continue_()
        else:
            watch.outside.append(route.request.url)
            route.abort("blockedbyclient")

    return handle


@pytest.fixture
def watch() -> Watch:
    return Watch()


@pytest.fixture
def open_page(browser: Browser, watch: Watch) -> Iterator[Callable[[str], Page]]:
    """Opens pages in contexts of a browser language ("en-US", "zh-CN"), each refusing
    requests that leave the machine and reporting errors to `watch`, which must stay clean."""
    contexts: list[BrowserContext] = []

    def open_in(locale: str) -> Page:
        context = browser.new_context(locale=locale, timezone_id="Asia/Shanghai")
        contexts.append(context)
        context.route("**/*", _keep_local(watch))
        context.add_init_script(REPORT_VIOLATIONS)
        context.add_init_script(path=AXE)
        page = context.new_page()
        page.on("console", watch.console)
        page.on("pageerror", lambda error: watch.errors.append(str(error)))
        return page

    yield open_in
    for context in contexts:
        context.close()
    watch.assert_clean()


@pytest.fixture
def page(open_page: Callable[[str], Page]) -> Page:
    return open_page("en-US")


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def serious_accessibility_violations(page: Page) -> list[str]:
    """axe-core's serious and critical violations of the page as it stands (axe is injected
    into every page by the context, from node_modules)."""
    results = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} at "
        + ", ".join(str(node["target"]) for node in violation["nodes"][:3])
        for violation in results["violations"]
        if violation["impact"] in ("serious", "critical")
    ]


def check_page(page: Page, name: str) -> None:
    """A page as every browser test leaves it, once drawn: photographed, and accessible."""
    screenshot(page, name)
    assert serious_accessibility_violations(page) == []


# People's pages need the registry's PeopleService: registry-api on a database of its own,
# and a console of their own that reaches it and mails through a real SMTP server.


@dataclass
class PeopleServers:
    console: str
    # registry-api's gRPC address, where tests make users and sessions.
    registry: str
    mailbox: Mailbox


@pytest.fixture(scope="session")
def people_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PeopleServers]:
    """Sign-ups wait for the operator, whose page approves them."""
    with _people_servers(tmp_path_factory, "approval") as servers:
        yield servers


@pytest.fixture(scope="session")
def open_sign_up_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PeopleServers]:
    """A confirmed sign-up makes its company at once."""
    with _people_servers(tmp_path_factory, "open") as servers:
        yield servers


@contextmanager
def _people_servers(tmp_path_factory: pytest.TempPathFactory, sign_up_mode: str) -> Iterator[PeopleServers]:
    logs = tmp_path_factory.mktemp("people-logs")
    registry_port, console_port = free_port(), free_port()
    with ExitStack() as stack:
        topology = stack.enter_context(bus_namespace([]))
        database = stack.enter_context(postgres_database())
        upgrade("registry", database)
        connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
        topology.declare(connection.channel())
        connection.close()
        mailbox = stack.enter_context(running_mailbox(tmp_path_factory.mktemp("smtp")))
        registry = f"127.0.0.1:{registry_port}"
        env = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'generated'}",
            "GANTRY_AMQP_URL": AMQP_URL,
            "GANTRY_BUS_NAMESPACE": topology.namespace,
            "GANTRY_REGISTRY_DATABASE_URL": database,
            "GANTRY_REGISTRY_GRPC_PORT": str(registry_port),
            "GANTRY_REGISTRY_GRPC_TARGET": registry,
            "GANTRY_SIGNUP_MODE": sign_up_mode,
            "GANTRY_CONSOLE_PORT": str(console_port),
            "GANTRY_CONSOLE_PUBLIC_URL": f"http://127.0.0.1:{console_port}",
            "GANTRY_METRICS_PORT": "0",
            **mailbox.env,
        }
        started = {name: _start(stack, name, env, logs) for name in ("registry-api", "console")}
        console = f"http://127.0.0.1:{console_port}"
        eventually(lambda: _serving(registry, started["registry-api"], logs), 30, "registry-api to serve")
        eventually(
            lambda: _answers(f"{console}/healthz", started["console"], logs / "console.log"),
            30,
            "console to answer",
        )
        yield PeopleServers(console=console, registry=registry, mailbox=mailbox)


def _serving(target: str, process: subprocess.Popen, logs: Path) -> bool:
    if process.poll() is not None:
        raise AssertionError(f"registry-api exited:\n{(logs / 'registry-api.log').read_text()[-3000:]}")
    return grpc_serving(target)


def with_session(page: Page, console: str, session_token: str) -> Page:
    """The page's browser holds a real session of the registry, made through its API, as
    after signing in at `console`."""
    cookie = {"name": "gantry_session", "value": session_token, "url": console}
    page.context.add_cookies([{**cookie, "httpOnly": True, "secure": True, "sameSite": "Lax"}])
    return page


def signed_in(page: Page, platform: Platform, session_token: str) -> Page:
    """`with_session` at the whole platform's console."""
    return with_session(page, console_url(platform), session_token)
