"""aiosqlite as SQLAlchemy drives it, with ONE hand-off to the connection's thread per statement.

SQLAlchemy's stock aiosqlite adapter makes four trips to aiosqlite's worker thread per statement (open a
cursor, execute, fetch, close), each a thread wake-up and an event-loop wake-up. Measured on the posting and
home-timeline paths (bench/), those trips, not SQLite, were most of a request's time. Here the whole
statement (cursor, execute, fetch every row, close) runs as one function in that thread, and the cursor SQLAlchemy
sees holds the outcome. Same connection, same thread, same transactions: only fewer trips.

It extends SQLAlchemy 2.1's adapter classes (pyproject pins ``SQLAlchemy>=2.1,<2.2``); every storage test
runs through it on SQLite, and ``tests/test_storage_round_trips.py`` checks that a statement is one trip.
"""

from __future__ import annotations

import sqlite3
from collections import deque
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT

_Outcome = tuple[Any, list[Any] | None, int, int | None]


def _run(connection: sqlite3.Connection, many: bool, operation: str, parameters: Any) -> _Outcome:
    """In aiosqlite's thread: the statement from cursor to close; (description, rows, rowcount, lastrowid)."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else None
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class _OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ("_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: Any) -> None:  # no super(): it would open an aiosqlite cursor (a trip)
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]  # nothing to close: the statement closed its own
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid  # type: ignore[return-value]

    @property
    def arraysize(self) -> int:
        return 1

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        pass

    async def _async_soft_close(self) -> None:
        return  # the rows are already here and the sqlite3 cursor already closed

    async def _run(self, many: bool, operation: Any, parameters: Any) -> None:
        connection: Any = self._connection  # an aiosqlite.Connection; its _execute is the one trip (untyped)
        async with self._adapt_connection._execute_mutex:
            outcome: _Outcome = await connection._execute(_run, connection._conn, many, operation, parameters)
        self._description, rows, self._rowcount, self._lastrowid = outcome
        self._rows = deque(rows) if rows else deque()

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        await self._run(False, operation, parameters)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        await self._run(True, operation, seq_of_parameters)


class _OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = _OneTripCursor


class _OneTripDbapi(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> AsyncAdapt_aiosqlite_connection:
        stock = super().connect(*arg, **kw)
        return _OneTripConnection(self, stock._connection)


def one_trip_dbapi() -> Any:
    """The DBAPI module to give ``create_async_engine(..., module=...)`` for ``sqlite+aiosqlite`` URLs."""
    return _OneTripDbapi(aiosqlite, sqlite3)
