"""Typed keys for what the app and each request carry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from aiohttp import web

from intrablog.domain.model import User
from intrablog.services.facade import Services
from intrablog.services.live import LiveService


@dataclass(frozen=True)
class WebSettings:
    public_url: str
    cookie_name: str
    csrf_cookie_name: str
    secret_key: bytes
    secure_cookies: bool
    max_post_chars: int
    max_page_size: int
    token_ttl_seconds: int
    # Live stream (SSE). A comment line every ``live_heartbeat_seconds`` finds connections that died quietly;
    # ``live_retry_ms`` is how long a browser waits before reconnecting; a reconnect re-sends what was posted
    # up to ``live_resume_margin_ms`` before its Last-Event-ID, because ids are drawn before commit and two
    # posts can commit out of id order (the page shows each post once whatever it receives).
    live_heartbeat_seconds: float = 15.0
    live_retry_ms: int = 2000
    live_resume_margin_ms: int = 2000
    # A page that missed more than this is told to reload rather than flooded.
    live_catch_up_limit: int = 200


@dataclass(frozen=True)
class Identity:
    user: User
    token: str
    via: Literal["bearer", "cookie"]


class ErrorPageRenderer(Protocol):
    """Renders an error for a page (the pages package provides it; the middleware only calls it)."""

    def __call__(self, request: web.Request, status: int, detail: str) -> web.Response: ...


SERVICES = web.AppKey("services", Services)
WEB_SETTINGS = web.AppKey("web_settings", WebSettings)
LIVE = web.AppKey("live", LiveService)
HTML_ERRORS = web.AppKey("html_errors", ErrorPageRenderer)
IDENTITY = web.RequestKey("identity", Identity)
REQUEST_ID = web.RequestKey("request_id", str)
