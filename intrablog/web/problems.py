"""RFC 9457 problem details: the one shape every API error takes."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from intrablog.errors import (
    Conflict,
    Forbidden,
    IntrablogError,
    Invalid,
    NotFound,
    Unauthenticated,
    Unavailable,
)

PROBLEM_JSON = "application/problem+json"

_STATUS: dict[type[IntrablogError], int] = {
    Invalid: 422,
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    Unavailable: 503,
}


def status_of(error: IntrablogError) -> int:
    for kind, status in _STATUS.items():
        if isinstance(error, kind):
            return status
    return 500


def problem(
    status: int,
    title: str,
    detail: str,
    request_id: str | None = None,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if request_id:
        body["request_id"] = request_id
    if errors is not None:
        body["errors"] = errors
    response = web.Response(status=status, text=json.dumps(body), content_type=PROBLEM_JSON, headers=headers)
    return response


def problem_from_error(error: IntrablogError, request_id: str | None) -> web.Response:
    status = status_of(error)
    errors = [{"field": e.field, "reason": e.reason} for e in error.errors] if isinstance(error, Invalid) else None
    headers = {"WWW-Authenticate": 'Bearer realm="intrablog"'} if status == 401 else None
    if status == 503:
        headers = {"Retry-After": "5"}
    return problem(status, error.title, error.detail, request_id, errors, headers)
