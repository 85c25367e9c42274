"""The database adapter: engine, connection settings per backend, units of work, health check, exclusive
sections."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import event, make_url, text
from sqlalchemy.exc import DisconnectionError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from intrablog.config import DatabaseConfig
from intrablog.errors import Unavailable
from intrablog.storage.errors import UNAVAILABLE
from intrablog.storage.exclusive import SECTION_TIMEOUT_S, PgSections
from intrablog.storage.sqlite_driver import one_trip_dbapi
from intrablog.storage.unit_of_work import SqlUnitOfWork

SQLITE_BUSY_TIMEOUT_MS = 5_000
POSTGRES_CONNECT_TIMEOUT_S = 5.0


class SqlDatabase:
    """Implements the Database port on SQLite (aiosqlite) or PostgreSQL (asyncpg)."""

    def __init__(
        self, config: DatabaseConfig, *, ping_timeout: float = 5.0, section_timeout: float = SECTION_TIMEOUT_S
    ) -> None:
        self.engine: AsyncEngine = create_engine(config.url, echo=config.echo)
        self._ping_timeout = ping_timeout
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # PostgreSQL reads in autocommit: no BEGIN and ROLLBACK round trips around them (asyncpg switches
        # client-side, without a round trip). SQLite's driver opens no transaction for reads anyway.
        readers = self.engine.execution_options(isolation_level="AUTOCOMMIT") if self._is_postgres else self.engine
        self._readers = async_sessionmaker(readers, expire_on_commit=False)
        # SQLite is one node: every section is granted at once.
        self._sections = PgSections(config.url, timeout_seconds=section_timeout) if self._is_postgres else None

    @property
    def dialect_name(self) -> str:
        return self.engine.dialect.name

    @property
    def _is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def unit_of_work(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self._sessions(), self.dialect_name)

    def reading(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self._readers(), self.dialect_name, read_only=True)

    def try_exclusive(self, job: str) -> AbstractAsyncContextManager[bool]:
        return nullcontext(True) if self._sections is None else self._sections.try_exclusive(job)

    def exclusive(self, job: str, waiting: Callable[[], None]) -> AbstractAsyncContextManager[None]:
        return nullcontext() if self._sections is None else self._sections.exclusive(job, waiting)

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
    connect_args: dict[str, Any] = {"timeout": POSTGRES_CONNECT_TIMEOUT_S}
    engine = create_async_engine(url, echo=echo, connect_args=connect_args)

    @event.listens_for(engine.sync_engine, "checkout")
    def _replace_if_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        # A pooled connection that died with a PostgreSQL restart (or pg_terminate_backend) is replaced, not
        # handed to a request: the server closed its socket and asyncpg marked it closed, which costs nothing
        # to ask. SQLAlchemy's pool_pre_ping asked the server instead: BEGIN, a ping and ROLLBACK, three round
        # trips before every unit of work, as many as a whole home page's SQL.
        if dbapi_connection.driver_connection.is_closed():
            raise DisconnectionError("the pooled connection was closed by the server")

    return engine


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
    # module=: SQLAlchemy's aiosqlite dialect over a DBAPI adapter that makes one trip to aiosqlite's thread per
    # statement instead of four (sqlite_driver.py).
    engine = create_async_engine(url, echo=echo, module=one_trip_dbapi())

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
