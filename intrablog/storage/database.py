"""The database adapter: engine, connection settings per backend, units of work, health check."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import event, make_url, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from intrablog.config import DatabaseConfig
from intrablog.errors import Unavailable
from intrablog.storage.errors import UNAVAILABLE
from intrablog.storage.unit_of_work import SqlUnitOfWork

SQLITE_BUSY_TIMEOUT_MS = 5_000
POSTGRES_CONNECT_TIMEOUT_S = 5.0


class SqlDatabase:
    """Implements the Database port on SQLite (aiosqlite) or PostgreSQL (asyncpg)."""

    def __init__(self, config: DatabaseConfig, *, ping_timeout: float = 5.0) -> None:
        self.engine: AsyncEngine = create_engine(config.url, echo=config.echo)
        self._ping_timeout = ping_timeout
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect_name(self) -> str:
        return self.engine.dialect.name

    def unit_of_work(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self._sessions(), self.dialect_name)

    async def ping(self) -> None:
        """Raise Unavailable unless the database answers within the ping timeout."""
        try:
            async with asyncio.timeout(self._ping_timeout), self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            raise Unavailable(UNAVAILABLE) from exc

    async def dispose(self) -> None:
        await self.engine.dispose()


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """An engine set up for the backend ``url`` names (see DatabaseConfig for the accepted URLs)."""
    if make_url(url).get_backend_name() == "sqlite":
        return _sqlite_engine(url, echo)
    # pre_ping: a pooled connection that died with a PostgreSQL restart is replaced, not handed to a request.
    connect_args: dict[str, Any] = {"timeout": POSTGRES_CONNECT_TIMEOUT_S}
    return create_async_engine(url, echo=echo, pool_pre_ping=True, connect_args=connect_args)


def ensure_sqlite_folder(url: str) -> None:
    """SQLite creates the file but not its folder (``var/`` on a fresh checkout)."""
    parsed = make_url(url)
    database = parsed.database
    if (
        parsed.get_backend_name() == "sqlite"
        and database
        and database != ":memory:"
        and not database.startswith("file:")
    ):
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_engine(url: str, echo: bool) -> AsyncEngine:
    ensure_sqlite_folder(url)
    engine = create_async_engine(url, echo=echo)

    @event.listens_for(engine.sync_engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        # WAL: readers never block the writer. NORMAL is crash-safe in WAL mode (only an OS crash can lose
        # the last commits). foreign_keys is off by default in SQLite; busy_timeout waits for the one writer
        # instead of failing at once with "database is locked".
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    return engine
