"""Errors on pages, in words a person can act on (the API keeps its problem+json).

The error middleware calls ``error_page`` for every path that is a page; a request that is not signed in
(or whose session expired) is sent to the sign-in form and brought back afterwards.
"""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web

from intrablog.web.keys import IDENTITY, REQUEST_ID, WEB_SETTINGS
from intrablog.web.pages.base import Reader, reader, render, see_other

_TITLES = {
    400: "Bad request",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed",
    409: "Cannot do that",
    413: "Too large",
    422: "Cannot do that",
    503: "Temporarily unavailable",
}
_MESSAGES = {
    404: "There is nothing here, or it is not shared with you. Check the address, or go back to your home timeline.",
    503: "A service intrablog depends on (the directory or the database) is not answering. Please try again shortly.",
    500: "Something went wrong on our side. It has been logged; please try again.",
}


def _sign_in_redirect(request: web.Request) -> web.Response:
    target = request.path_qs if request.method == "GET" else "/"
    location = "/login" if target == "/" else f"/login?{urlencode({'next': target})}"
    response = see_other(location)
    settings = request.app[WEB_SETTINGS]
    if settings.cookie_name in request.cookies:
        # The session is unknown, expired or revoked: forget it, or every page would bounce here again.
        response.del_cookie(settings.cookie_name, path="/")
        response.del_cookie(settings.csrf_cookie_name, path="/")
    return response


def error_page(request: web.Request, status: int, detail: str) -> web.Response:
    if status == 401:
        return _sign_in_redirect(request)
    who: Reader | None = reader(request) if IDENTITY in request else None
    message = _MESSAGES.get(status)
    if message is None:
        message = f"{detail[:1].upper()}{detail[1:]}" if detail else "That request could not be completed."
        if status == 403 and "X-CSRF-Token" in detail:
            message = "This form had expired or did not come from intrablog. Go back, reload the page and try again."
    context = {
        "title": _TITLES.get(status, "Something went wrong"),
        "message": message,
        "back_url": "/" if who else "/login",
        "back_label": "Go to your home timeline" if who else "Sign in",
        "request_id": request.get(REQUEST_ID, ""),
    }
    return render(request, "error.html", context, status=status, who=who)
