"""The sign-in form and signing out.

The form sets the same cookies as ``POST /api/v1/login``, with the same flags. It has no session yet
to tie a CSRF token to, so it carries its own: a random nonce in a short-lived SameSite=Strict cookie and
its HMAC in a hidden field; another site cannot read the cookie, so it cannot forge the field, and cannot
sign a colleague into the attacker's account.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from aiohttp import web

from intrablog.errors import Unauthenticated, Unavailable
from intrablog.web.keys import SERVICES, WEB_SETTINGS, WebSettings
from intrablog.web.middlewares import CSRF_FIELD
from intrablog.web.pages.base import form_fields, local_path, render, see_other
from intrablog.web.sessions import end_session, set_session_cookies

LOGIN_NONCE_COOKIE = "intrablog_login"
_LOGIN_NONCE_SECONDS = 3600


def _login_token(settings: WebSettings, nonce: str) -> str:
    return hmac.new(settings.secret_key, f"login:{nonce}".encode(), hashlib.sha256).hexdigest()


async def _signed_in(request: web.Request) -> bool:
    token = request.cookies.get(request.app[WEB_SETTINGS].cookie_name)
    if not token:
        return False
    try:
        await request.app[SERVICES].accounts.authenticate(token)
    except Unauthenticated:
        return False
    return True


def _form(request: web.Request, *, username: str = "", error: str = "", status: int = 200) -> web.Response:
    settings = request.app[WEB_SETTINGS]
    nonce = secrets.token_urlsafe(24)
    context = {
        "login_token": _login_token(settings, nonce),
        "next_path": local_path(request.query.get("next")) if request.method == "GET" else "",
        "username": username,
        "error": error,
    }
    response = render(request, "login.html", context, status=status)
    response.set_cookie(
        LOGIN_NONCE_COOKIE,
        nonce,
        path="/login",
        httponly=True,
        samesite="Strict",
        secure=settings.secure_cookies,
        max_age=_LOGIN_NONCE_SECONDS,
    )
    return response


async def login_page(request: web.Request) -> web.StreamResponse:
    if await _signed_in(request):
        return see_other(local_path(request.query.get("next")))
    return _form(request)


async def login_submit(request: web.Request) -> web.StreamResponse:
    settings = request.app[WEB_SETTINGS]
    fields = await form_fields(request)
    username = fields.get("username", "")[:256]
    nonce = request.cookies.get(LOGIN_NONCE_COOKIE, "")
    if not nonce or not hmac.compare_digest(fields.get(CSRF_FIELD, ""), _login_token(settings, nonce)):
        return _form(request, username=username, error="The sign-in form had expired. Please try again.", status=403)
    try:
        session = await request.app[SERVICES].accounts.sign_in(username, fields.get("password", ""))
    except Unauthenticated:
        return _form(request, username=username, error="Wrong username or password. Please try again.", status=401)
    except Unavailable:
        error = "The company directory is not answering, so nobody can sign in right now. Please try again shortly."
        return _form(request, username=username, error=error, status=503)
    response = see_other(local_path(fields.get("next")))
    set_session_cookies(response, settings, session)
    response.del_cookie(LOGIN_NONCE_COOKIE, path="/login")
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    return await end_session(request, see_other("/login"))
