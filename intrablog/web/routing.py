"""The API's route table: each handler is registered with what OpenAPI needs to describe it.

Keeping the description next to the handler, in one table, means a route cannot exist undocumented.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class QueryParameter:
    """An optional query parameter beyond the paging ones (``limit``, ``before``), e.g. a filter."""

    name: str
    description: str
    schema: dict[str, Any]


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    status: int = 200
    response: type[BaseModel] | None = None
    response_is_list: bool = False
    body: type[BaseModel] | None = None
    auth: bool = True
    paged: bool = False
    errors: tuple[int, ...] = ()
    description: str = ""
    # Statuses that answer with the success body rather than a problem (e.g. a degraded health check).
    same_body_statuses: tuple[int, ...] = ()
    query: tuple[QueryParameter, ...] = ()
    # The success body's media type when it is not JSON (e.g. "text/csv"); documented as a string.
    media_type: str = "application/json"

    @property
    def path_params(self) -> list[str]:
        return re.findall(r"{(\w+)}", self.path)

    @property
    def operation_id(self) -> str:
        return self.handler.__name__


@dataclass
class RouteTable:
    operations: list[Operation] = field(default_factory=list)

    def route(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        tag: str,
        status: int = 200,
        response: type[BaseModel] | None = None,
        response_is_list: bool = False,
        body: type[BaseModel] | None = None,
        auth: bool = True,
        paged: bool = False,
        errors: tuple[int, ...] = (),
        description: str = "",
        same_body_statuses: tuple[int, ...] = (),
        query: tuple[QueryParameter, ...] = (),
        media_type: str = "application/json",
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.operations.append(
                Operation(
                    method=method,
                    path=path,
                    handler=handler,
                    summary=summary,
                    tag=tag,
                    status=status,
                    response=response,
                    response_is_list=response_is_list,
                    body=body,
                    auth=auth,
                    paged=paged,
                    errors=errors,
                    description=description,
                    same_body_statuses=same_body_statuses,
                    query=query,
                    media_type=media_type,
                )
            )
            return handler

        return register

    def install(self, app: web.Application) -> None:
        for op in self.operations:
            app.router.add_route(op.method, op.path, op.handler, name=op.operation_id)


api = RouteTable()
