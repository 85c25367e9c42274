"""Health and the API description."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from intrablog.web.keys import SERVICES
from intrablog.web.render import json_response
from intrablog.web.routing import api
from intrablog.web.schemas import HealthOut

OPENAPI_DOC = web.AppKey("openapi_doc", dict[str, Any])


@api.route(
    "GET",
    "/healthz",
    summary="Database and directory status (200 when both answer, 503 otherwise, same body), this node's id "
    "and whether it runs the XMPP bridge",
    tag="system",
    response=HealthOut,
    auth=False,
    same_body_statuses=(503,),
)
async def healthz(request: web.Request) -> web.StreamResponse:
    health = await request.app[SERVICES].health()
    body = HealthOut(
        status="ok" if health.ok else "degraded",
        database=health.database,
        directory=health.directory,
        node=health.node,
        bridge=health.bridge.value,
    )
    return json_response(body, status=200 if health.ok else 503)


@api.route("GET", "/api/v1/openapi.json", summary="This API's OpenAPI 3.1 document", tag="system", auth=False)
async def openapi_document(request: web.Request) -> web.StreamResponse:
    return web.json_response(request.app[OPENAPI_DOC])
