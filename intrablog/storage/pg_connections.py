"""Dedicated asyncpg connections, outside SQLAlchemy's pool, for what a pooled connection cannot do.

A LISTEN, a NOTIFY sender that must not wait for a pool slot, and a session-level advisory lock all need a
connection of their own that lives as long as the node does (a pooled connection is handed back and
reused). The driver is the SQLAlchemy engine's own (asyncpg); only the URL's driver name changes.
"""

# The Protocol below mirrors asyncpg's own signatures, timeouts included.
# ruff: noqa: ASYNC109

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, cast

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import make_url

CONNECT_TIMEOUT_S = 5.0

# What a dedicated connection can fail with: the server gone or refusing, a network error, no answer. A
# query sent just as the server ended the session may also end in asyncpg's InternalClientError.
PG_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
)

Listener = Callable[[Any, int, str, str], None]


class PgConnection(Protocol):
    """The part of ``asyncpg.Connection`` used here (asyncpg ships no type information)."""

    async def execute(self, query: str, *args: object, timeout: float | None = None) -> str: ...

    async def fetchval(self, query: str, *args: object, timeout: float | None = None) -> Any: ...

    async def add_listener(self, channel: str, callback: Listener) -> None: ...

    def add_termination_listener(self, callback: Callable[[Any], None]) -> None: ...

    def is_closed(self) -> bool: ...

    def get_server_pid(self) -> int: ...

    async def close(self, *, timeout: float | None = None) -> None: ...

    def terminate(self) -> None: ...


def asyncpg_dsn(url: str) -> str:
    """``postgresql+asyncpg://...`` (SQLAlchemy) as the ``postgresql://...`` DSN asyncpg reads."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def connect(url: str, purpose: str, server_settings: dict[str, str] | None = None) -> PgConnection:
    """A new connection named ``intrablog <purpose>`` in pg_stat_activity (so an operator can tell them apart)."""
    settings = {"application_name": f"intrablog {purpose}"[:63], **(server_settings or {})}
    connection = await asyncpg.connect(asyncpg_dsn(url), timeout=CONNECT_TIMEOUT_S, server_settings=settings)
    return cast(PgConnection, connection)


async def close_quietly(connection: PgConnection | None) -> None:
    """Close, and abort if the server does not answer: the connection may already be dead."""
    if connection is None or connection.is_closed():
        return
    try:
        await connection.close(timeout=1.0)
    except Exception:  # whatever the failure, the socket must go
        connection.terminate()


def keepalive_settings(timeout_seconds: float) -> dict[str, str]:
    """Server-side TCP settings so that PostgreSQL ends this session about ``timeout_seconds`` after our
    machine vanished (power loss, cut network: no FIN or RST ever comes) rather than after the kernel's
    two hours: keepalive probes for an idle connection, a user timeout for unacknowledged data."""
    idle = max(1, int(timeout_seconds / 2))
    interval = max(1, int(timeout_seconds / 6))
    return {
        "tcp_keepalives_idle": str(idle),
        "tcp_keepalives_interval": str(interval),
        "tcp_keepalives_count": "3",
        "tcp_user_timeout": str(int(timeout_seconds * 1000)),
    }


def lock_settings(timeout_seconds: float) -> dict[str, str]:
    """For a connection holding an advisory lock: the server ends its session, and so releases the lock,
    about ``timeout_seconds`` after the holder vanished (``keepalive_settings``) or went silent with its
    socket open (``idle_session_timeout``, PostgreSQL 14 and newer): the holder must query more often."""
    return {**keepalive_settings(timeout_seconds), "idle_session_timeout": str(int(timeout_seconds * 1000))}
