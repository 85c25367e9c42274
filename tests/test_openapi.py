"""The served OpenAPI document is valid 3.1, describes every route, and every error is a problem document."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

from intrablog.web.routing import api as route_table
from tests.support.app_fixtures import Api

PROBLEM_JSON = "application/problem+json"
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    """The document does not depend on the database: one backend is enough."""
    return sqlite_url


async def _document(api: Api) -> dict[str, Any]:
    response = await api.client.get("/api/v1/openapi.json")
    assert response.status == 200, await response.text()
    assert response.content_type == "application/json"
    document: dict[str, Any] = await response.json()
    return document


def _resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        ref: str = node["$ref"]
        assert ref.startswith("#/"), ref
        target: Any = document
        for part in ref[2:].split("/"):
            target = target[part]
        node = target
    return node


def _operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    }


def _router_routes(app: web.Application) -> set[tuple[str, str]]:
    routes: set[tuple[str, str]] = set()
    for route in app.router.routes():
        if route.method == "HEAD":
            continue
        resource = route.resource
        assert resource is not None, f"{route!r} has no resource"
        if not (resource.canonical.startswith("/api/") or resource.canonical == "/healthz"):
            continue  # pages (HTML) and the live stream (SSE) are not part of the JSON API
        routes.add((route.method, resource.canonical))
    return routes


async def test_document_is_valid_openapi_3_1(api: Api) -> None:
    document = await _document(api)
    assert document["openapi"].startswith("3.1.")
    validate(document)  # detects the version from the document itself
    validate(document, cls=OpenAPIV31SpecValidator)  # and is 3.1 in particular


async def test_every_route_is_documented_with_its_method(api: Api) -> None:
    document = await _document(api)
    documented = set(_operations(document))
    registered = _router_routes(api.client.app)
    assert registered, "the app registered no routes"
    missing = registered - documented
    assert not missing, f"routes missing from the OpenAPI document: {sorted(missing)}"
    phantom = documented - registered
    assert not phantom, f"documented operations the app does not serve: {sorted(phantom)}"
    operation_ids = [operation["operationId"] for operation in _operations(document).values()]
    assert len(operation_ids) == len(set(operation_ids)), "operationIds must be unique"


async def test_every_error_response_is_a_problem_document(api: Api) -> None:
    document = await _document(api)
    problem_schema = _resolve(document, {"$ref": "#/components/schemas/Problem"})
    assert {"type", "title", "status", "detail"} <= set(problem_schema["required"])
    # Statuses that deliberately answer with the success body (a degraded health check), per the route table.
    same_body = {
        (op.method, op.path): set(map(str, op.same_body_statuses))
        for op in route_table.operations
        if op.same_body_statuses
    }
    for (method, path), operation in _operations(document).items():
        where = f"{method} {path}"
        responses: dict[str, Any] = operation["responses"]
        errors = {status: response for status, response in responses.items() if status[0] in "45"}
        assert errors, f"{where} documents no error response"
        assert "503" in errors, f"{where} does not document 503 (dependency unavailable)"
        if operation.get("security"):
            assert "401" in errors, f"{where} needs a sign-in but does not document 401"
        if "requestBody" in operation or any(p["in"] == "query" for p in operation.get("parameters", [])):
            assert "422" in errors, f"{where} takes input but does not document 422"
        for status, response in errors.items():
            response = _resolve(document, response)
            content: dict[str, Any] = response.get("content", {})
            if status in same_body.get((method, path), set()):
                success = next(r for s, r in responses.items() if s.startswith("2"))
                assert content == _resolve(document, success).get("content"), f"{where} {status}"
                continue
            assert list(content) == [PROBLEM_JSON], f"{where} {status} is documented as {list(content)}"
            assert content[PROBLEM_JSON]["schema"] == {"$ref": "#/components/schemas/Problem"}, f"{where} {status}"


async def test_every_operation_has_a_documented_success(api: Api) -> None:
    document = await _document(api)
    for (method, path), operation in _operations(document).items():
        successes = [status for status in operation["responses"] if status.startswith("2")]
        assert len(successes) == 1, f"{method} {path} documents successes {successes}"
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "path":
                assert parameter["required"] is True
                assert "{" + parameter["name"] + "}" in path, f"{method} {path}: stray {parameter['name']}"
