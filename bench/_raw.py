"""The raw baselines' database access: the bare driver (stdlib sqlite3, asyncpg) on one kept connection.

No pool, no ORM, no unit of work, no row objects: what the same SQL costs at the least. SQLite gets the
settings intrablog's own connections get (WAL, ``synchronous=NORMAL``), so durability is the same on both
sides of a ratio.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import event

from bench import _databases
from bench._databases import Backend
from intrablog.storage.database import SqlDatabase

Statement = tuple[str, Any]


@contextmanager
def captured(database: SqlDatabase) -> Iterator[list[Statement]]:
    """Every statement intrablog sends to the database meanwhile, exactly as sent (SQL text, parameters)."""
    statements: list[Statement] = []

    def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_rest: Any) -> None:
        statements.append((statement, parameters))

    engine = database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", keep)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", keep)


def is_read(statement: str) -> bool:
    return statement.lstrip().upper().startswith(("SELECT", "WITH"))


class RawDriver:
    def __init__(self, backend: Backend, url: str) -> None:
        self.backend = backend
        self._url = url
        self._sqlite: sqlite3.Connection | None = None
        self._postgres: asyncpg.Connection | None = None

    async def __aenter__(self) -> RawDriver:
        if self.backend == "sqlite":
            # isolation_level=None: the driver issues no BEGIN of its own; transactions are explicit below.
            self._sqlite = sqlite3.connect(_databases.sqlite_path(self._url), isolation_level=None)
            self._sqlite.execute("PRAGMA journal_mode=WAL")
            self._sqlite.execute("PRAGMA synchronous=NORMAL")
        else:
            server = _databases.postgres_server()
            self._postgres = await asyncpg.connect(
                host=server.host, port=server.port, user="postgres", database=_databases.postgres_name(self._url)
            )
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._sqlite is not None:
            self._sqlite.close()
        if self._postgres is not None:
            await self._postgres.close()

    def marks(self, count: int) -> str:
        """``count`` placeholders in the driver's style."""
        if self.backend == "sqlite":
            return ", ".join("?" * count)
        return ", ".join(f"${n}" for n in range(1, count + 1))

    async def fetch_counts(self, statements: list[Statement]) -> list[int]:
        """Run each statement, fetch every row; the row counts."""
        counts: list[int] = []
        for sql, parameters in statements:
            if self._sqlite is not None:
                counts.append(len(self._sqlite.execute(sql, parameters).fetchall()))
            else:
                assert self._postgres is not None
                counts.append(len(await self._postgres.fetch(sql, *parameters)))
        return counts

    async def fetch_column(self, sql: str, *parameters: object) -> list[Any]:
        if self._sqlite is not None:
            return [row[0] for row in self._sqlite.execute(sql, parameters).fetchall()]
        assert self._postgres is not None
        return [row[0] for row in await self._postgres.fetch(sql, *parameters)]

    async def transaction(self, statements: Sequence[Statement]) -> None:
        """One transaction: each statement once, then COMMIT."""
        if self._sqlite is not None:
            self._sqlite.execute("BEGIN")
            for sql, parameters in statements:
                self._sqlite.execute(sql, parameters)
            self._sqlite.execute("COMMIT")
            return
        assert self._postgres is not None
        async with self._postgres.transaction():
            for sql, parameters in statements:
                await self._postgres.execute(sql, *parameters)

    async def insert_many(self, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
        """One transaction: the driver's batch insert (``executemany``) of every row, then COMMIT."""
        if self._sqlite is not None:
            self._sqlite.execute("BEGIN")
            self._sqlite.executemany(sql, rows)
            self._sqlite.execute("COMMIT")
            return
        assert self._postgres is not None
        async with self._postgres.transaction():
            await self._postgres.executemany(sql, rows)


def sqlite_timestamp(value: Any) -> Any:
    """A datetime as intrablog's SQLite columns hold it (naive UTC text); anything else unchanged."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    return value
