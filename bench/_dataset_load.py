"""Bulk loading of generated rows with the raw drivers: sqlite3 ``executemany``, asyncpg ``COPY``.

The ORM would spend minutes building objects for a million posts; the drivers' bulk paths take seconds.
Column lists follow intrablog/storage/models.py (the migrations' schema); datetimes are aware UTC values,
written as SQLAlchemy's SQLite dialect writes them (naive UTC text), so intrablog reads them back as its own.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Literal

import asyncpg  # type: ignore[import-untyped]

from bench import _databases
from bench._raw import sqlite_timestamp

Table = Literal[
    "users",
    "channels",
    "memberships",
    "channel_follows",
    "user_follows",
    "sessions",
    "posts",
    "post_mentions",
    "post_tags",
]
COLUMNS: dict[str, tuple[str, ...]] = {
    "users": (
        "id",
        "username",
        "display_name",
        "email",
        "xmpp_address",
        "active",
        "is_site_admin",
        "created_at",
        "last_seen_in_directory",
        "im_enabled",
        "department",
    ),
    "channels": ("id", "name", "title", "description", "kind", "visibility", "created_at", "created_by"),
    "memberships": ("channel_id", "user_id", "role", "created_at", "source"),
    "channel_follows": ("follower_id", "channel_id", "created_at", "im_delivery"),
    "user_follows": ("follower_id", "user_id", "created_at", "im_delivery"),
    "sessions": ("token_hash", "user_id", "created_at", "expires_at", "revoked_at"),
    "posts": (
        "id",
        "author_id",
        "channel_id",
        "text",
        "in_reply_to",
        "thread_root",
        "created_at",
        "edited_at",
        "deleted_at",
        "requires_ack",
        "urgent",
    ),
    "post_mentions": ("post_id", "user_id", "position"),
    "post_tags": ("post_id", "tag", "position"),
}
# Tables whose integer ids PostgreSQL draws from a sequence: moved past the loaded ids.
_SEQUENCES = ("users", "channels")

Batches = Iterable[tuple[Table, list[tuple[object, ...]]]]


def _insert(table: str) -> str:
    columns = COLUMNS[table]
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


def _load_sqlite(path: str, batches: Iterator[tuple[Table, list[tuple[object, ...]]]]) -> None:
    connection = sqlite3.connect(path)
    try:
        # One transaction, no journal fsyncs: a failed load is thrown away whole anyway.
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute("BEGIN")
        for table, rows in batches:
            if rows:
                has_dates = any(isinstance(value, datetime) for value in rows[0])
                converted = [tuple(map(sqlite_timestamp, row)) for row in rows] if has_dates else rows
                connection.executemany(_insert(table), converted)
        connection.execute("COMMIT")
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()


async def _load_postgres(url: str, batches: Iterator[tuple[Table, list[tuple[object, ...]]]]) -> None:
    server = _databases.postgres_server()
    connection: asyncpg.Connection = await asyncpg.connect(
        host=server.host, port=server.port, user="postgres", database=_databases.postgres_name(url), timeout=10
    )
    try:
        async with connection.transaction():
            # Foreign-key checks are triggers: a million of them would double the load time for rows the
            # generator made consistent. Only for this connection, and only during the load.
            await connection.execute("SET LOCAL session_replication_role = replica")
            for table, rows in batches:
                if rows:
                    await connection.copy_records_to_table(table, records=rows, columns=list(COLUMNS[table]))
            for name in _SEQUENCES:
                await connection.execute(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT max(id) FROM {name}))"
                )
        # What autovacuum would have done on a live system: statistics for the planner, a visibility map.
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()


async def load(url: str, batches: Batches) -> None:
    """Write every batch, in order, into the (migrated, empty) database at ``url``."""
    iterator = iter(batches)
    if url.startswith("sqlite"):
        await asyncio.to_thread(_load_sqlite, str(_databases.sqlite_path(url)), iterator)
    else:
        await _load_postgres(url, iterator)
