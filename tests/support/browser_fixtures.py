"""Browser tests: Debian's Chromium under Playwright, against the whole application on a real port.

``web_app`` runs intrablog (real slapd, a fresh SQLite database) in a thread of its own, because
Playwright's sync API drives the browser from the test's thread. ``browser_page(username)`` opens a page
in a fresh browser context (its own cookies), signed in through the login API; ``poster(username)`` is an
HTTP client that posts "from elsewhere" with a bearer token. ``screenshot(page, name)`` keeps a PNG under
test-artifacts/screenshots/ for a person to look at.

Playwright lives for one test module (``chromium``), not the session: its sync API keeps an asyncio loop
marked as running in the main thread while it is alive, so every asyncio test that ran after a
session-scoped Playwright (pytest-playwright's ``playwright``, ``browser``, ``page``) would fail with
"asyncio.run() cannot be called from a running event loop". Browser tests use the fixtures below.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol, TypeVar

import pytest
from aiohttp import web
from playwright.sync_api import (
    APIRequestContext,
    Browser,
    BrowserContext,
    Page,
    Playwright,
    ViewportSize,
    sync_playwright,
)

from intrablog.config import LdapConfig
from intrablog.runtime import build_app
from intrablog.web.live import LIVE_HUB
from intrablog.web.live_hub import LiveHub
from tests.support.app_fixtures import make_settings
from tests.support.live_server import LiveServer, live_server

T = TypeVar("T")

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
# TEST-SERVERS.md: Playwright adds the others itself, not these two; --no-sandbox because tests run as root.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP: ViewportSize = {"width": 1100, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """pytest-playwright's browser, launched from Debian's Chromium (Playwright's own builds are not here)."""
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@dataclass(frozen=True)
class Chromium:
    playwright: Playwright
    browser: Browser


@pytest.fixture(scope="module")
def chromium(browser_type_launch_args: dict[str, Any]) -> Iterator[Chromium]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**browser_type_launch_args)
        try:
            yield Chromium(playwright, browser)
        finally:
            browser.close()


@dataclass
class WebApp:
    server: LiveServer
    app: web.Application

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def hub(self) -> LiveHub:
        return self.app[LIVE_HUB]

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run on the server's own loop (the hub belongs to it)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.server._loop).result(10)


@pytest.fixture
def web_app(sqlite_url: str, ldap_config: LdapConfig) -> Iterator[WebApp]:
    settings = make_settings(sqlite_url, ldap_config)
    built: list[web.Application] = []

    def build() -> web.Application:
        app = build_app(settings)
        hub = app[LIVE_HUB]
        # A short reconnect delay keeps the reconnect test quick; production's default is 2 s as well.
        hub.settings = replace(hub.settings, live_retry_ms=1000)
        built.append(app)
        return app

    with live_server(build) as server:
        yield WebApp(server, built[0])


class OpenPage(Protocol):
    def __call__(self, username: str | None = None, viewport: ViewportSize = DESKTOP) -> Page: ...


@pytest.fixture
def browser_page(chromium: Chromium, web_app: WebApp) -> Iterator[OpenPage]:
    contexts: list[BrowserContext] = []

    def open_page(username: str | None = None, viewport: ViewportSize = DESKTOP) -> Page:
        context = chromium.browser.new_context(base_url=web_app.base_url, viewport=viewport)
        context.set_default_timeout(5_000)
        contexts.append(context)
        if username is not None:
            # The login API sets the same HttpOnly cookies as the form; the form has its own test.
            response = context.request.post(
                "/api/v1/login", data={"username": username, "password": f"{username}-pass"}
            )
            assert response.ok, response.text()
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@dataclass
class Poster:
    request: APIRequestContext
    token: str

    def post(self, text: str, channel: str | None = None, in_reply_to: str | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {"text": text}
        if channel is not None:
            data["channel"] = channel
        if in_reply_to is not None:
            data["in_reply_to"] = in_reply_to
        response = self.request.post("/api/v1/posts", data=data, headers={"Authorization": f"Bearer {self.token}"})
        assert response.status == 201, response.text()
        created: dict[str, Any] = response.json()
        return created

    def call(self, method: str, path: str, data: dict[str, Any] | None = None) -> Any:
        response = self.request.fetch(path, method=method, data=data, headers={"Authorization": f"Bearer {self.token}"})
        assert response.ok, f"{method} {path}: {response.status} {response.text()}"
        return response.json() if response.body() else None


@pytest.fixture
def poster(chromium: Chromium, web_app: WebApp) -> Iterator[Callable[[str], Poster]]:
    requests: list[APIRequestContext] = []

    def sign_in(username: str) -> Poster:
        request = chromium.playwright.request.new_context(base_url=web_app.base_url)
        requests.append(request)
        response = request.post("/api/v1/login", data={"username": username, "password": f"{username}-pass"})
        assert response.ok, response.text()
        return Poster(request, response.json()["token"])

    yield sign_in
    for request in requests:
        request.dispose()


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
