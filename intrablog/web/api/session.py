"""Sign-in, sign-out and who am I."""

from __future__ import annotations

from aiohttp import web

from intrablog.web.inputs import read_json
from intrablog.web.keys import SERVICES, WEB_SETTINGS
from intrablog.web.middlewares import csrf_token_for, identity
from intrablog.web.render import json_response, user_out
from intrablog.web.routing import api
from intrablog.web.schemas import LoginRequest, LoginResponse, UserOut
from intrablog.web.sessions import end_session, set_session_cookies


@api.route(
    "POST",
    "/api/v1/login",
    summary="Sign in with the directory password",
    description="Returns a bearer token and also sets the HttpOnly session cookie used by the web pages. "
    "A wrong password and an unknown user get the same 401; an unreachable directory gets 503.",
    tag="session",
    body=LoginRequest,
    response=LoginResponse,
    auth=False,
    errors=(401, 503),
)
async def login(request: web.Request) -> web.StreamResponse:
    data = await read_json(request, LoginRequest)
    settings = request.app[WEB_SETTINGS]
    session = await request.app[SERVICES].accounts.sign_in(data.username, data.password)
    response = json_response(
        LoginResponse(
            token=session.token,
            expires_at=session.expires_at,
            csrf_token=csrf_token_for(settings.secret_key, session.token),
            user=user_out(session.user, settings.public_url),
        )
    )
    set_session_cookies(response, settings, session)
    return response


@api.route("POST", "/api/v1/logout", summary="Revoke the current token or session", tag="session", status=204)
async def logout(request: web.Request) -> web.StreamResponse:
    return await end_session(request, web.Response(status=204))


@api.route("GET", "/api/v1/me", summary="The signed-in user", tag="session", response=UserOut)
async def me(request: web.Request) -> web.StreamResponse:
    return json_response(user_out(identity(request).user, request.app[WEB_SETTINGS].public_url))
