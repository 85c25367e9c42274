"""Starting and ending a signed-in session on the web, the same for the API and the pages."""

from __future__ import annotations

from aiohttp import web

from intrablog.services.accounts import SignedInSession
from intrablog.web.keys import SERVICES, WEB_SETTINGS, WebSettings
from intrablog.web.live import LIVE_HUB
from intrablog.web.middlewares import csrf_token_for, identity


def set_session_cookies(response: web.StreamResponse, settings: WebSettings, session: SignedInSession) -> str:
    """The session cookie (HttpOnly: script never sees it) and the CSRF cookie the pages' script echoes in
    the X-CSRF-Token header; returns that CSRF token."""
    csrf = csrf_token_for(settings.secret_key, session.token)
    for name, value, httponly in (
        (settings.cookie_name, session.token, True),
        (settings.csrf_cookie_name, csrf, False),
    ):
        response.set_cookie(
            name,
            value,
            path="/",
            httponly=httponly,
            samesite="Lax",
            secure=settings.secure_cookies,
            max_age=settings.token_ttl_seconds,
        )
    return csrf


async def end_session(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    """Revoke the caller's token or session, end its open live streams now (not at their next reconnect),
    and clear its cookies on ``response``."""
    who = identity(request)
    await request.app[SERVICES].accounts.sign_out(who.token)
    request.app[LIVE_HUB].close_session(who.token)
    settings = request.app[WEB_SETTINGS]
    response.del_cookie(settings.cookie_name, path="/")
    response.del_cookie(settings.csrf_cookie_name, path="/")
    return response
