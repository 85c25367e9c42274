"""Typed keys for what the app and each request carry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from aiohttp import web

from intrablog.domain.model import User
from intrablog.services.facade import Services


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


@dataclass(frozen=True)
class Identity:
    user: User
    token: str
    via: Literal["bearer", "cookie"]


SERVICES = web.AppKey("services", Services)
WEB_SETTINGS = web.AppKey("web_settings", WebSettings)
IDENTITY = web.RequestKey("identity", Identity)
REQUEST_ID = web.RequestKey("request_id", str)
