"""Migrations: upgrade -> downgrade -> upgrade on a fresh, unmigrated database of each backend, and the
migrated schema is exactly what the models describe (alembic finds nothing to autogenerate)."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Connection, Integer, MetaData, inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from intrablog.storage.migrate import ALEMBIC_DIR, alembic_config, downgrade, migrate
from intrablog.storage.models import Base
from tests.support.database_fixtures import BACKENDS, DatabaseKind, FreshDatabaseUrl

REPOSITORY = ALEMBIC_DIR.parent
HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


def _schema_differences(connection: Connection, metadata: MetaData) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


def _state(connection: Connection) -> tuple[set[str], str | None]:
    tables = set(inspect(connection).get_table_names())
    return tables, MigrationContext.configure(connection).get_current_revision()


async def inspect_database(url: str, metadata: MetaData = Base.metadata) -> tuple[set[str], str | None, list[Any]]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            tables, revision = await connection.run_sync(_state)
            differences = await connection.run_sync(_schema_differences, metadata)
    finally:
        await engine.dispose()
    return tables, revision, differences


@pytest.mark.parametrize("kind", BACKENDS)
async def test_upgrade_downgrade_upgrade_matches_the_models(
    kind: DatabaseKind, fresh_database_url: FreshDatabaseUrl
) -> None:
    url = fresh_database_url(kind, migrated=False)
    model_tables = set(Base.metadata.tables)

    await migrate(url)
    tables, revision, differences = await inspect_database(url)
    assert tables == model_tables | {"alembic_version"}
    assert revision == HEAD
    assert differences == []

    await downgrade(url, "base")
    tables, revision, _ = await inspect_database(url)
    assert tables == {"alembic_version"}, "downgrade to base removes every table it created"
    assert revision is None

    await migrate(url)
    tables, revision, differences = await inspect_database(url)
    assert tables == model_tables | {"alembic_version"}
    assert revision == HEAD
    assert differences == []


async def test_the_comparison_does_see_a_difference(sqlite_url: str) -> None:
    # Guards the test above against passing vacuously.
    drifted = MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(drifted)
    drifted.tables["users"].append_column(Column("nickname", Integer))
    _, _, differences = await inspect_database(sqlite_url, drifted)
    assert [(d[0], d[3].name) for d in differences] == [("add_column", "nickname")]


@pytest.mark.parametrize("kind", BACKENDS)
def test_the_alembic_command_line_migrates_and_finds_nothing_to_generate(
    kind: DatabaseKind, fresh_database_url: FreshDatabaseUrl
) -> None:
    url = fresh_database_url(kind, migrated=False)

    def alembic(*arguments: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "alembic", "-x", f"url={url}", *arguments],
            cwd=REPOSITORY,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout + done.stderr

    alembic("upgrade", "head")
    assert "No new upgrade operations detected" in alembic("check")


def test_offline_mode_writes_the_sql() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "alembic", "-x", "url=postgresql+asyncpg://nowhere/none", "upgrade", "head", "--sql"],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "CREATE TABLE posts" in done.stdout
    assert "CREATE INDEX ix_posts_channel_id_id ON posts (channel_id, id)" in done.stdout


@pytest.mark.parametrize("kind", BACKENDS)
async def test_0002_keeps_existing_people_both_ways(kind: DatabaseKind, fresh_database_url: FreshDatabaseUrl) -> None:
    url = fresh_database_url(kind, migrated=False)
    await migrate(url, "0001")
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO users (username, display_name, xmpp_address, active, is_site_admin, created_at)"
                    " VALUES ('erin', 'Erin', 'Erin@Chat.Example.com', true, false, CURRENT_TIMESTAMP)"
                )
            )
        await migrate(url)
        async with engine.connect() as connection:
            row = (await connection.execute(text("SELECT xmpp_address, im_enabled FROM users"))).one()
        # Existing people get IM on and their address in the form JIDs are looked up by.
        assert (row.xmpp_address, bool(row.im_enabled)) == ("erin@chat.example.com", True)

        # SQLite rebuilds the users table to drop the column: its rows (and the tables pointing at it) survive.
        await downgrade(url, "0001")
        async with engine.connect() as connection:
            columns = {
                column["name"] for column in await connection.run_sync(lambda c: inspect(c).get_columns("users"))
            }
            usernames = (await connection.execute(text("SELECT username FROM users"))).scalars().all()
        assert "im_enabled" not in columns
        assert usernames == ["erin"]
    finally:
        await engine.dispose()
