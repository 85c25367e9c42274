"""Parsing what a request carries into typed values, or Invalid/NotFound naming what is wrong."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from intrablog.domain.ids import parse_id
from intrablog.domain.model import PageRequest
from intrablog.errors import FieldError, Invalid, NotFound
from intrablog.web.keys import SERVICES

M = TypeVar("M", bound=BaseModel)

MAX_BODY_BYTES = 64 * 1024
MAX_PATH_PARAM_CHARS = 256
MAX_LIMIT_DIGITS = 6


def _unstorable(value: str) -> str | None:
    # Neither PostgreSQL text nor UTF-8 can hold these; refuse them at the door rather than in the driver.
    if "\x00" in value:
        return "must not contain NUL characters"
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):
        return "must not contain unpaired surrogates"
    return None


def _check_strings(value: Any, path: str, errors: list[FieldError]) -> None:
    if isinstance(value, str):
        reason = _unstorable(value)
        if reason:
            errors.append(FieldError(path or "body", reason))
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_strings(item, f"{path}.{key}" if path else str(key), errors)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_strings(item, f"{path}.{index}" if path else str(index), errors)


def _field_of(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "body"


async def read_json(request: web.Request, model: type[M]) -> M:
    try:
        raw = await request.content.read(MAX_BODY_BYTES + 1)
    except web.RequestPayloadError:
        # A body that does not match its Content-Encoding (or a broken chunked stream) is bad input, not a crash.
        raise Invalid("body", "could not be read: it does not match its Content-Encoding or framing") from None
    if len(raw) > MAX_BODY_BYTES:
        raise Invalid("body", f"must be at most {MAX_BODY_BYTES} bytes")
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise Invalid("body", "must be UTF-8 encoded JSON") from None
    except json.JSONDecodeError as exc:
        raise Invalid("body", f"is not valid JSON ({exc.msg} at position {exc.pos})") from None
    if not isinstance(data, dict):
        raise Invalid("body", "must be a JSON object")
    errors: list[FieldError] = []
    _check_strings(data, "", errors)
    if errors:
        raise Invalid.of(errors)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise Invalid.of([FieldError(_field_of(e["loc"]), e["msg"]) for e in exc.errors()]) from None


def path_text(request: web.Request, key: str) -> str:
    """A name from the path; anything that can name nothing is simply not found."""
    value = request.match_info[key]
    if not value or len(value) > MAX_PATH_PARAM_CHARS or _unstorable(value):
        raise NotFound(f"no such {key}")
    return value


def path_post_id(request: web.Request) -> int:
    text = request.match_info["id"]
    post_id = parse_id(text)
    if post_id is None:
        raise NotFound(f"no post {text[:40]!r}")
    return post_id


def query_limit(request: web.Request) -> int | None:
    """The ``limit`` of a paged list, if given; its range is the service's to check."""
    raw_limit = request.query.get("limit")
    if raw_limit is None:
        return None
    if not raw_limit.isascii() or not raw_limit.isdigit() or len(raw_limit) > MAX_LIMIT_DIGITS:
        raise Invalid("limit", "must be a whole number")
    return int(raw_limit)


def query_before(request: web.Request, reason: str = "must be a post id") -> int | None:
    """The ``before`` cursor of a paged list (an id), if given; ``reason`` says what it must be."""
    raw_before = request.query.get("before")
    if raw_before is None:
        return None
    before = parse_id(raw_before)
    if before is None:
        raise Invalid("before", reason)
    return before


def page_request(request: web.Request) -> PageRequest:
    limit = query_limit(request)
    return request.app[SERVICES].timelines.page_request(limit, query_before(request))
