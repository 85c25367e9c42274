"""Database fixtures: every storage test runs on a real SQLite file and a real PostgreSQL database.

- ``database_url``: a fresh, migrated, empty database per test, parametrized ``sqlite`` / ``postgresql``.
- ``sqlite_url`` / ``postgres_url``: the same for one backend only.
- ``fresh_database_url``: a factory, ``fresh_database_url("postgresql", migrated=False)``, for tests that
  need several databases or an unmigrated one.
- ``database``: an ``SqlDatabase`` on ``database_url``, disposed after the test.

Migrating takes far longer than copying, so each backend is migrated once per session into a template
(a file for SQLite, a ``TEMPLATE`` database for PostgreSQL) and every test gets a copy of it.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Literal, Protocol

import pytest
import pytest_asyncio

from intrablog.config import DatabaseConfig
from intrablog.storage.database import SqlDatabase
from intrablog.storage.migrate import migrate
from tests.support.postgres import (
    LoopThread,
    PostgresServer,
    describe_shared_server,
    new_database_name,
    start_postgres,
)

DatabaseKind = Literal["sqlite", "postgresql"]
BACKENDS: tuple[DatabaseKind, ...] = ("sqlite", "postgresql")


class FreshDatabaseUrl(Protocol):
    def __call__(self, kind: DatabaseKind, *, migrated: bool = True) -> str: ...


# What the session actually used, for the summary at the end of the run.
_used_postgres: list[str] = []


def sqlite_url_for(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [f"sqlite: SQLite {sqlite3.sqlite_version} (aiosqlite)", describe_shared_server()]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for description in _used_postgres:
        terminalreporter.write_line(f"database tests used {description}")


@pytest.fixture(scope="session")
def database_admin_loop() -> Iterator[LoopThread]:
    loop = LoopThread()
    yield loop
    loop.close()


@pytest.fixture(scope="session")
def postgres_server(database_admin_loop: LoopThread) -> Iterator[PostgresServer]:
    server = start_postgres(database_admin_loop)
    _used_postgres.append(server.description)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_template(postgres_server: PostgresServer, database_admin_loop: LoopThread) -> Iterator[str]:
    """A database migrated to head; tests get ``CREATE DATABASE ... TEMPLATE`` copies of it."""
    name = new_database_name("tpl")
    postgres_server.admin.create_database(name)
    try:
        database_admin_loop.run(migrate(postgres_server.url(name)))
        yield name
    finally:
        postgres_server.admin.drop_database(name)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory, database_admin_loop: LoopThread) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    # Migrated without the application's WAL setting: one self-contained file that copies cleanly.
    database_admin_loop.run(migrate(sqlite_url_for(path)))
    return path


class _FreshDatabases:
    """Creates databases for one test and removes them when it ends."""

    def __init__(self, request: pytest.FixtureRequest, folder: Path) -> None:
        self._request = request
        self._folder = folder
        self._server: PostgresServer | None = None
        self._postgres_databases: list[str] = []

    def __call__(self, kind: DatabaseKind, *, migrated: bool = True) -> str:
        name = new_database_name()
        if kind == "sqlite":
            path = self._folder / f"{name}.db"
            if migrated:
                shutil.copyfile(self._request.getfixturevalue("sqlite_template"), path)
            return sqlite_url_for(path)
        if kind == "postgresql":
            server: PostgresServer = self._request.getfixturevalue("postgres_server")
            template = self._request.getfixturevalue("postgres_template") if migrated else "template0"
            self._server = server
            server.admin.create_database(name, template=template)
            self._postgres_databases.append(name)
            return server.url(name)
        raise ValueError(f"unknown database kind {kind!r}")

    def drop_all(self) -> None:
        if self._server is not None:
            for name in self._postgres_databases:
                self._server.admin.drop_database(name)


@pytest.fixture
def fresh_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FreshDatabaseUrl]:
    """``fresh_database_url(kind, migrated=True)`` -> the URL of a new, empty database of that kind."""
    databases = _FreshDatabases(request, tmp_path)
    yield databases
    databases.drop_all()


@pytest.fixture(params=BACKENDS, ids=BACKENDS)
def database_url(request: pytest.FixtureRequest, fresh_database_url: FreshDatabaseUrl) -> str:
    """A fresh, migrated, empty database; every test using it runs once on SQLite and once on PostgreSQL."""
    return fresh_database_url(request.param)


@pytest.fixture
def sqlite_url(fresh_database_url: FreshDatabaseUrl) -> str:
    return fresh_database_url("sqlite")


@pytest.fixture
def postgres_url(fresh_database_url: FreshDatabaseUrl) -> str:
    return fresh_database_url("postgresql")


@pytest_asyncio.fixture
async def database(database_url: str) -> AsyncIterator[SqlDatabase]:
    db = SqlDatabase(DatabaseConfig(url=database_url))
    try:
        yield db
    finally:
        await db.dispose()
