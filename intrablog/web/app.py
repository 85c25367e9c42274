"""The aiohttp application factory: the JSON API, the pages and their live stream."""

from __future__ import annotations

from aiohttp import web

from intrablog.services.facade import Services
from intrablog.services.live import LiveService
from intrablog.web import api as _handlers  # noqa: F401 - importing registers every route
from intrablog.web import live
from intrablog.web.api.system import OPENAPI_DOC
from intrablog.web.inputs import MAX_BODY_BYTES
from intrablog.web.keys import LIVE, SERVICES, WEB_SETTINGS, WebSettings
from intrablog.web.middlewares import (
    auth_middleware,
    error_middleware,
    request_id_middleware,
    security_headers_middleware,
)
from intrablog.web.openapi import build_openapi
from intrablog.web.pages import routes as pages
from intrablog.web.routing import api


def create_app(services: Services, settings: WebSettings) -> web.Application:
    app = web.Application(
        middlewares=[request_id_middleware, security_headers_middleware, error_middleware, auth_middleware],
        client_max_size=MAX_BODY_BYTES * 2,
    )
    app[SERVICES] = services
    app[WEB_SETTINGS] = settings
    app[LIVE] = LiveService.from_context(services.context)
    api.install(app)
    app[OPENAPI_DOC] = build_openapi(api, settings, {})
    env = pages.install(app)
    live.install(app, pages.fragment_renderers(env))
    return app
