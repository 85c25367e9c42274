"""Request id → security headers → errors → auth, in that order: every response, even a failed sign-in,
carries its request id and the security headers; errors are answered in ONE place, as problem+json for the
API and the live stream, as an HTML page (or a redirect to the sign-in form) for the pages."""

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
from intrablog.web.keys import HTML_ERRORS, IDENTITY, REQUEST_ID, SERVICES, WEB_SETTINGS, Identity
from intrablog.web.problems import problem, problem_from_error, status_of

log = logging.getLogger("intrablog.web")

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_HEADER = "X-CSRF-Token"
# The same token in a hidden field, for forms that work without script.
CSRF_FIELD = "csrf_token"
_FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
# Open to everyone (sign-in has no session yet to forge); a stale token sent along must not turn them into a 401.
# The sign-in form checks its own pre-session CSRF token.
_PUBLIC_PATHS = frozenset({"/api/v1/login", "/api/v1/openapi.json", "/healthz", "/login"})
_PUBLIC_PREFIXES = ("/static/",)
# What is not the API, the live stream or the health check is a page, and gets its errors as a page.
_MACHINE_PREFIXES = ("/api/", "/live/")
# No inline script, style or event handler can run; forms post only here; no framing (clickjacking).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
_SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def is_page(request: web.Request) -> bool:
    return not request.path.startswith(_MACHINE_PREFIXES) and request.path != "/healthz"


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
async def security_headers_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    if not response.prepared:  # a stream (SSE) has sent its headers already
        for name, value in _SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
    return response


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    rid = request.get(REQUEST_ID)
    try:
        return await handler(request)
    except IntrablogError as error:
        if status_of(error) >= 500:
            log.warning("request failed: %s", error.detail)
        if is_page(request):
            return _page_error(request, status_of(error), error.detail)
        return problem_from_error(error, rid)
    except web.HTTPException as http_error:
        if http_error.status < 400:
            raise
        if is_page(request):
            return _page_error(request, http_error.status, http_error.reason)
        return problem(http_error.status, http_error.reason, http_error.text or http_error.reason, rid)
    except Exception:
        log.exception("unexpected error")
        if is_page(request):
            return _page_error(request, 500, "")
        return problem(500, "Internal error", "an unexpected error occurred; it has been logged", rid)


def _page_error(request: web.Request, status: int, detail: str) -> web.Response:
    render = request.app.get(HTML_ERRORS)
    if render is None:
        return problem(status, "Error", detail, request.get(REQUEST_ID))
    try:
        return render(request, status, detail)
    except Exception:
        # An error page must not fail the request a second time; plain text still says what happened.
        log.exception("the error page could not be rendered")
        return web.Response(status=status, text=f"{status}: {detail or 'error'}")


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
    if request.path in _PUBLIC_PATHS or request.path.startswith(_PUBLIC_PREFIXES):
        return await handler(request)
    credentials = _credentials(request)
    if credentials is not None:
        token, via = credentials
        settings = request.app[WEB_SETTINGS]
        if via == "cookie" and request.method in _UNSAFE_METHODS:
            sent = await _sent_csrf_token(request)
            if not hmac.compare_digest(sent, csrf_token_for(settings.secret_key, token)):
                raise Forbidden(
                    f"missing or wrong {CSRF_HEADER} header (or {CSRF_FIELD} form field) "
                    "for a cookie-authenticated request"
                )
        user = await request.app[SERVICES].accounts.authenticate(token)
        request[IDENTITY] = Identity(user=user, token=token, via="bearer" if via == "bearer" else "cookie")
    return await handler(request)


async def _sent_csrf_token(request: web.Request) -> str:
    """The header (script, API clients), else the hidden form field (forms without script)."""
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent and request.content_type in _FORM_TYPES:
        # aiohttp keeps the parsed form, so the handler reads the same body again for free.
        value = (await request.post()).get(CSRF_FIELD)
        sent = value if isinstance(value, str) else ""
    return sent


def identity(request: web.Request) -> Identity:
    if IDENTITY not in request:
        raise Unauthenticated("sign in first: send 'Authorization: Bearer <token>' or the session cookie")
    return request[IDENTITY]
