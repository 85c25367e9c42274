"""What a unit of work costs in trips to the database (issue 7), without giving up what it guarantees."""

from __future__ import annotations

import asyncio
from typing import Any

import aiosqlite
import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy import text

from intrablog.config import DatabaseConfig
from intrablog.storage.database import SqlDatabase
from tests.support.storage_data import add_user


async def test_a_reading_unit_of_work_opens_no_transaction_and_cannot_commit(database: SqlDatabase) -> None:
    async with database.unit_of_work() as uow:
        alice = await add_user(uow, "alice")
        await uow.commit()
    async with database.reading() as uow:
        assert await uow.users.get(alice.id) == alice, "it sees what was committed"
        with pytest.raises(RuntimeError, match="cannot commit"):
            await uow.commit()
    if database.dialect_name != "postgresql":
        return
    # In a transaction now() is the transaction's start; outside one, each statement's own.
    async with database.unit_of_work() as uow:
        first, second = [(await uow.session.execute(text("SELECT now()"))).scalar_one() for _ in range(2)]
        assert first == second
    async with database.reading() as uow:
        first, second = [(await uow.session.execute(text("SELECT now()"))).scalar_one() for _ in range(2)]
        assert first < second, "no BEGIN: each statement is its own transaction"
    async with database.unit_of_work() as uow:
        assert await uow.users.get(alice.id) == alice, "the pooled connection went back to transactions"
        first, second = [(await uow.session.execute(text("SELECT now()"))).scalar_one() for _ in range(2)]
        assert first == second


async def test_a_postgresql_connection_the_server_closed_is_replaced(postgres_url: str) -> None:
    database = SqlDatabase(DatabaseConfig(url=postgres_url))
    try:
        async with database.reading() as uow:
            pid = (await uow.session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        url = database.engine.url
        admin = await asyncpg.connect(
            host=url.host, port=url.port, user=url.username, password=url.password, database=url.database
        )
        try:
            # With a timeout, PostgreSQL answers once the backend has exited (its socket closed).
            assert await admin.fetchval("SELECT pg_terminate_backend($1, 5000)", pid)
        finally:
            await admin.close()
        await asyncio.sleep(0.05)  # the event loop reads the closed socket
        async with database.reading() as uow:
            assert (await uow.session.execute(text("SELECT pg_backend_pid()"))).scalar_one() != pid
        async with database.unit_of_work() as uow:
            assert (await uow.session.execute(text("SELECT 1"))).scalar_one() == 1
    finally:
        await database.dispose()


async def test_sqlite_statements_are_one_trip_each_to_the_driver_thread(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = SqlDatabase(DatabaseConfig(url=sqlite_url))
    trips = 0
    execute: Any = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal trips
        trips += 1
        return await execute(self, fn, *args, **kwargs)

    try:
        async with database.unit_of_work() as uow:
            alice = await add_user(uow, "alice")
            await uow.commit()
        async with database.reading() as uow:
            await uow.users.get(alice.id)  # the pool holds a connection now: no connect below
        monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
        async with database.reading() as uow:
            assert await uow.users.get(alice.id) == alice
            assert await uow.users.get(alice.id + 1) is None
            assert trips == 2, "one trip per statement, rows and all"
        async with database.unit_of_work() as uow:
            trips = 0
            rename = text("UPDATE users SET display_name = 'A' WHERE id = :id")
            rows = await uow.session.execute(rename, {"id": alice.id})
            assert rows.rowcount == 1  # type: ignore[attr-defined]
            assert trips == 1
            await uow.commit()
    finally:
        await database.dispose()
