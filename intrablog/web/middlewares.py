"""Request id → errors → auth, in that order: every response, even a failed sign-in, carries its request id."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
import uuid

from aiohttp import web
from aiohttp.typedefs import Handler

from intrablog import observability
from intrablog.errors import Forbidden, IntrablogError, Unauthenticated
from intrablog.web.keys import IDENTITY, REQUEST_ID, SERVICES, WEB_SETTINGS, Identity
from intrablog.web.problems import problem, problem_from_error, status_of

log = logging.getLogger("intrablog.web")

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_HEADER = "X-CSRF-Token"
# Open to everyone (sign-in has no session yet to forge); a stale token sent along must not turn them into a 401.
_PUBLIC_PATHS = frozenset({"/api/v1/login", "/api/v1/openapi.json", "/healthz"})


def csrf_token_for(secret: bytes, session_token: str) -> str:
    return hmac.new(secret, session_token.encode(), hashlib.sha256).hexdigest()


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    incoming = request.headers.get("X-Request-ID", "")
    rid = incoming if _SAFE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
    request[REQUEST_ID] = rid
    token = observability.request_id.set(rid)
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        response.headers["X-Request-ID"] = rid
        return response
    finally:
        log.info(
            "%s %s %s",
            request.method,
            request.path,
            status,
            extra={"status": status, "ms": round((time.perf_counter() - started) * 1000, 1)},
        )
        observability.request_id.reset(token)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    rid = request.get(REQUEST_ID)
    try:
        return await handler(request)
    except IntrablogError as error:
        if status_of(error) >= 500:
            log.warning("request failed: %s", error.detail)
        return problem_from_error(error, rid)
    except web.HTTPException as http_error:
        if http_error.status < 400:
            raise
        return problem(http_error.status, http_error.reason, http_error.text or http_error.reason, rid)
    except Exception:
        log.exception("unexpected error")
        return problem(500, "Internal error", "an unexpected error occurred; it has been logged", rid)


def _credentials(request: web.Request) -> tuple[str, str] | None:
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("Authorization must be 'Bearer <token>'")
        return token.strip(), "bearer"
    cookie = request.cookies.get(request.app[WEB_SETTINGS].cookie_name)
    if cookie:
        return cookie, "cookie"
    return None


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Resolve who is calling, if anyone; handlers that need a person call ``identity(request)``."""
    if request.path in _PUBLIC_PATHS:
        return await handler(request)
    credentials = _credentials(request)
    if credentials is not None:
        token, via = credentials
        settings = request.app[WEB_SETTINGS]
        if via == "cookie" and request.method in _UNSAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(sent, csrf_token_for(settings.secret_key, token)):
                raise Forbidden(f"missing or wrong {CSRF_HEADER} header for a cookie-authenticated request")
        user = await request.app[SERVICES].accounts.authenticate(token)
        request[IDENTITY] = Identity(user=user, token=token, via="bearer" if via == "bearer" else "cookie")
    return await handler(request)


def identity(request: web.Request) -> Identity:
    if IDENTITY not in request:
        raise Unauthenticated("sign in first: send 'Authorization: Bearer <token>' or the session cookie")
    return request[IDENTITY]
