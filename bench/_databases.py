"""The benchmarks' databases: fresh SQLite files and PostgreSQL databases, created by the run and dropped after.

PostgreSQL is the server on 127.0.0.1:5432 when it answers (each database gets a unique name and is dropped
with ``WITH (FORCE)``), else a throwaway cluster started for the run: the same rule, and the same code, as
the test suite's (``tests/support/postgres.py``). ``INTRABLOG_BENCH_POSTGRES=host:port`` names another
server (trust authentication for user ``postgres``).
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import sqlite3
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import asyncpg  # type: ignore[import-untyped]

from intrablog.storage.migrate import migrate
from tests.support.postgres import (
    SHARED_HOST,
    SHARED_PORT,
    ThrowawayCluster,
    port_answers,
    postgres_url,
    process_alive,
)

Backend = Literal["sqlite", "postgresql"]
BACKENDS: tuple[Backend, ...] = ("sqlite", "postgresql")
SERVER_ENV = "INTRABLOG_BENCH_POSTGRES"
_NAME_PREFIX = "intrablog_bench_"
_NAME = re.compile(rf"{_NAME_PREFIX}[a-z]+_(\d+)_[0-9a-f]+")


@dataclass(frozen=True)
class PostgresAddress:
    host: str
    port: int
    description: str

    def url(self, database: str) -> str:
        return postgres_url(self.host, self.port, database)

    async def admin(self) -> asyncpg.Connection:
        connection: asyncpg.Connection = await asyncpg.connect(
            host=self.host, port=self.port, user="postgres", database="postgres", timeout=10
        )
        return connection


_server: PostgresAddress | None = None
_cluster: ThrowawayCluster | None = None
_abandoned_dropped = False


def _stop_cluster() -> None:
    global _cluster
    if _cluster is not None:
        _cluster.stop()
        _cluster = None


def postgres_server() -> PostgresAddress:
    """The server this run uses (started on first use when nothing answers on 5432)."""
    global _server, _cluster
    if _server is not None:
        return _server
    chosen = os.environ.get(SERVER_ENV, "")
    if chosen:
        host, _, port = chosen.rpartition(":")
        _server = PostgresAddress(host or SHARED_HOST, int(port), f"server at {chosen} ({SERVER_ENV})")
    elif port_answers(SHARED_HOST, SHARED_PORT):
        _server = PostgresAddress(SHARED_HOST, SHARED_PORT, f"shared server at {SHARED_HOST}:{SHARED_PORT}")
    else:
        ThrowawayCluster.stop_abandoned()
        _cluster = ThrowawayCluster()
        atexit.register(_stop_cluster)
        _cluster.start()
        _server = PostgresAddress("127.0.0.1", _cluster.port, f"throwaway cluster on 127.0.0.1:{_cluster.port}")
    return _server


async def _drop_abandoned(admin: asyncpg.Connection) -> None:
    """Drop the databases of benchmark runs that were killed before they could (their process is gone)."""
    global _abandoned_dropped
    if _abandoned_dropped:
        return
    _abandoned_dropped = True
    for row in await admin.fetch("SELECT datname FROM pg_database"):
        match = _NAME.fullmatch(row[0])
        if match and not process_alive(int(match.group(1))):
            await admin.execute(f'DROP DATABASE IF EXISTS "{row[0]}" WITH (FORCE)')


async def postgres_version() -> str:
    admin = await postgres_server().admin()
    try:
        return str(await admin.fetchval("SHOW server_version"))
    finally:
        await admin.close()


def sqlite_version() -> str:
    return sqlite3.sqlite_version


def new_name(purpose: str) -> str:
    return f"{_NAME_PREFIX}{purpose}_{os.getpid()}_{uuid.uuid4().hex[:12]}"


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def sqlite_path(url: str) -> Path:
    return Path(url.removeprefix("sqlite+aiosqlite:///"))


def postgres_name(url: str) -> str:
    return url.rsplit("/", 1)[1]


async def create_postgres(name: str, template: str = "template0") -> str:
    admin = await postgres_server().admin()
    try:
        await _drop_abandoned(admin)
        # FILE_COPY: PostgreSQL 15's default (WAL_LOG) copies a large template page by page through the WAL.
        strategy = " STRATEGY = FILE_COPY" if template != "template0" else ""
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"{strategy}')
    finally:
        await admin.close()
    return postgres_server().url(name)


async def drop_postgres(name: str) -> None:
    admin = await postgres_server().admin()
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def create_empty(backend: Backend, folder: Path, purpose: str) -> str:
    """A new database at the latest schema, holding nothing; its URL."""
    name = new_name(purpose)
    if backend == "sqlite":
        url = sqlite_url(folder / f"{name}.db")
    else:
        url = await create_postgres(name)
    await migrate(url)
    return url


async def copy_of(backend: Backend, template_url: str, folder: Path, purpose: str) -> str:
    """A copy of the database at ``template_url`` (nothing may be connected to it); the copy's URL."""
    name = new_name(purpose)
    if backend == "sqlite":
        target = folder / f"{name}.db"
        shutil.copyfile(sqlite_path(template_url), target)
        return sqlite_url(target)
    return await create_postgres(name, template=postgres_name(template_url))


async def drop(backend: Backend, url: str) -> None:
    if backend == "sqlite":
        path = sqlite_path(url)
        for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            leftover.unlink(missing_ok=True)
    else:
        await drop_postgres(postgres_name(url))


@asynccontextmanager
async def empty_database(backend: Backend, folder: Path, purpose: str) -> AsyncIterator[str]:
    url = await create_empty(backend, folder, purpose)
    try:
        yield url
    finally:
        await drop(backend, url)
