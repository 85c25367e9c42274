"""The database adapter: connection settings, health check, transactions, errors as the product's errors."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from intrablog.config import DatabaseConfig
from intrablog.domain.ports import Database
from intrablog.errors import Unavailable
from intrablog.storage.database import SqlDatabase
from tests.support.postgres import free_port, postgres_url
from tests.support.storage_data import add_user


async def test_ping_answers(database: SqlDatabase) -> None:
    port: Database = database  # mypy checks here that the adapter implements the port
    await port.ping()


async def test_sqlite_is_set_up_for_concurrency_and_integrity(tmp_path: Path) -> None:
    path = tmp_path / "not" / "yet" / "there.db"
    database = SqlDatabase(DatabaseConfig(url=f"sqlite+aiosqlite:///{path}"))
    try:
        async with database.engine.connect() as connection:
            pragmas = [
                (await connection.execute(text(f"PRAGMA {name}"))).scalar_one()
                for name in ("journal_mode", "foreign_keys", "busy_timeout")
            ]
    finally:
        await database.dispose()
    assert path.exists(), "the folder of the file is created"
    assert pragmas == ["wal", 1, 5000]


async def test_an_unreachable_postgresql_is_unavailable() -> None:
    database = SqlDatabase(DatabaseConfig(url=postgres_url("127.0.0.1", free_port(), "nothing")))
    try:
        with pytest.raises(Unavailable, match="database unavailable"):
            await database.ping()
        with pytest.raises(Unavailable):
            async with database.unit_of_work() as uow:
                await uow.users.get(1)
    finally:
        await database.dispose()


async def test_an_unopenable_sqlite_file_is_unavailable(tmp_path: Path) -> None:
    # A folder where the file should be: SQLite cannot open it.
    database = SqlDatabase(DatabaseConfig(url=f"sqlite+aiosqlite:///{tmp_path}"))
    threads_before = set(threading.enumerate())
    try:
        with pytest.raises(Unavailable):
            await database.ping()
    finally:
        await database.dispose()
    # After a failed connect aiosqlite stops its worker thread without waiting for it; if this test's event
    # loop closed first, that thread would fail reporting back to it. Let it finish while the loop exists.
    for thread in set(threading.enumerate()) - threads_before:
        thread.join(timeout=5)
    await asyncio.sleep(0)


async def test_an_error_inside_the_block_rolls_back(database: SqlDatabase) -> None:
    async def sign_in_then_fail() -> None:
        async with database.unit_of_work() as uow:
            await add_user(uow, "alice")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await sign_in_then_fail()
    async with database.unit_of_work() as uow:
        assert await uow.users.by_username("alice") is None


async def test_committed_work_is_seen_by_the_next_unit_of_work(database: SqlDatabase) -> None:
    async with database.unit_of_work() as uow:
        alice = await add_user(uow, "alice")
        await uow.commit()
    async with database.unit_of_work() as uow:
        assert await uow.users.by_username("alice") == alice
