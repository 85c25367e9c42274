"""OpenAPI 3.1 document built from the route table and the pydantic models, so it cannot drift."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from intrablog import __version__
from intrablog.web.keys import WebSettings
from intrablog.web.routing import Operation, RouteTable
from intrablog.web.schemas import POST_ID_PATTERN, Problem

REF = "#/components/schemas/{model}"
_ERROR_TITLES = {
    401: "Not signed in, or the token is unknown, expired or revoked",
    403: "Not allowed (or a cookie-authenticated request without its X-CSRF-Token)",
    404: "Not found, or not visible to you",
    409: "Conflicts with what exists",
    422: "Invalid input; `errors` names each field at fault",
    503: "A dependency (directory or database) is unavailable; retry later",
}
_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def _path_parameter(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 256}
    if name == "id":
        schema = {"type": "string", "pattern": POST_ID_PATTERN}
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _page_parameters(max_page_size: int) -> list[dict[str, Any]]:
    return [
        {
            "name": "limit",
            "in": "query",
            "required": False,
            "description": "Items per page (newest first)",
            "schema": {"type": "integer", "minimum": 1, "maximum": max_page_size, "default": 20},
        },
        {
            "name": "before",
            "in": "query",
            "required": False,
            "description": "Only items older than this id (the cursor from the Link header)",
            "schema": {"type": "string", "pattern": POST_ID_PATTERN},
        },
    ]


def _error_statuses(op: Operation) -> list[int]:
    statuses = set(op.errors) | {503}
    if op.auth:
        statuses.add(401)
        if op.method in _UNSAFE:
            statuses.add(403)
    if op.body is not None or op.paged or op.query:
        statuses.add(422)
    return sorted(statuses)


def _operation(op: Operation, refs: dict[str, str], settings: WebSettings) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "tags": [op.tag],
        "security": [{"bearerAuth": []}, {"cookieAuth": []}] if op.auth else [],
    }
    if op.description:
        doc["description"] = op.description
    parameters = [_path_parameter(name) for name in op.path_params]
    if op.paged:
        parameters += _page_parameters(settings.max_page_size)
    parameters += [
        {"name": q.name, "in": "query", "required": False, "description": q.description, "schema": q.schema}
        for q in op.query
    ]
    if parameters:
        doc["parameters"] = parameters
    if op.body is not None:
        doc["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": refs[_key(op.body, "validation")]}}},
        }
    ok: dict[str, Any] = {"description": op.summary}
    if op.response is None and op.status != 204:
        body_schema = {"type": "object"} if op.media_type == "application/json" else {"type": "string"}
        ok["content"] = {op.media_type: {"schema": body_schema}}
    if op.response is not None:
        item = {"$ref": refs[_key(op.response, "serialization")]}
        schema = {"type": "array", "items": item} if op.response_is_list else item
        ok["content"] = {"application/json": {"schema": schema}}
    if op.paged:
        ok["headers"] = {
            "Link": {
                "description": 'RFC 8288 link to the next (older) page: `<url>; rel="next"`',
                "schema": {"type": "string"},
            }
        }
    responses: dict[str, Any] = {str(op.status): ok}
    for status in op.same_body_statuses:
        responses[str(status)] = {**ok, "description": _ERROR_TITLES.get(status, op.summary)}
    problem_ref = {"$ref": refs[_key(Problem, "serialization")]}
    for status in _error_statuses(op):
        if status in op.same_body_statuses:
            continue
        responses[str(status)] = {
            "description": _ERROR_TITLES[status],
            "content": {"application/problem+json": {"schema": problem_ref}},
        }
    doc["responses"] = responses
    return doc


Mode = Literal["validation", "serialization"]


def _key(model: type[BaseModel], mode: Mode) -> str:
    return f"{model.__name__}:{mode}"


def build_openapi(table: RouteTable, settings: WebSettings, extra_paths: dict[str, Any]) -> dict[str, Any]:
    models: dict[str, tuple[type[BaseModel], Mode]] = {_key(Problem, "serialization"): (Problem, "serialization")}
    for op in table.operations:
        if op.body is not None:
            models[_key(op.body, "validation")] = (op.body, "validation")
        if op.response is not None:
            models[_key(op.response, "serialization")] = (op.response, "serialization")
    key_map, definitions = models_json_schema(list(models.values()), ref_template=REF)
    refs = {key: key_map[pair]["$ref"] for key, pair in models.items()}
    schemas = definitions.get("$defs", {})
    post_request = schemas.get("PostCreateRequest", {}).get("properties", {}).get("text")
    if post_request is not None:
        post_request["maxLength"] = settings.max_post_chars
        post_request["description"] = f"At most {settings.max_post_chars} characters after NFC normalisation"

    paths: dict[str, Any] = dict(extra_paths)
    for op in table.operations:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, refs, settings)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "intrablog API",
            "version": __version__,
            "description": "Enterprise microblog: sign in with the directory password, follow channels and "
            "people, post and reply. Errors are application/problem+json (RFC 9457).",
        },
        "servers": [{"url": settings.public_url}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer"},
                "cookieAuth": {"type": "apiKey", "in": "cookie", "name": settings.cookie_name},
            },
        },
    }
