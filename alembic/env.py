"""Alembic environment: async engines, the application's models as the target, batch mode on SQLite."""

from __future__ import annotations

import asyncio
import os
from logging.config import fileConfig
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection, pool
from sqlalchemy.ext.asyncio import async_engine_from_config

from intrablog.config import DatabaseConfig
from intrablog.storage.database import ensure_sqlite_folder
from intrablog.storage.models import Base
from intrablog.storage.types import UTCDateTime

config = context.config
target_metadata = Base.metadata

if config.config_file_name is not None:
    # Keep the application's loggers when alembic runs inside it.
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def database_url() -> str:
    """``-x url=...``, else INTRABLOG_DATABASE__URL, else sqlalchemy.url, else the application default."""
    return (
        context.get_x_argument(as_dictionary=True).get("url")
        or os.environ.get("INTRABLOG_DATABASE__URL")
        or config.get_main_option("sqlalchemy.url")
        or DatabaseConfig().url
    )


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    # Revisions must not import application code that may change later: write the column type plainly.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def configure_options(dialect_name: str) -> dict[str, Any]:
    return {
        "target_metadata": target_metadata,
        "compare_type": True,
        # SQLite cannot ALTER most things: alembic rebuilds the table instead ("batch" operations).
        "render_as_batch": dialect_name == "sqlite",
        "render_item": render_item,
    }


def run_migrations_offline() -> None:
    url = database_url()
    dialect_name = url.split(":", 1)[0].split("+", 1)[0]
    context.configure(
        url=url, literal_binds=True, dialect_opts={"paramstyle": "named"}, **configure_options(dialect_name)
    )
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    context.configure(connection=connection, **configure_options(connection.dialect.name))
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    url = database_url()
    ensure_sqlite_folder(url)
    connectable = async_engine_from_config({"sqlalchemy.url": url}, prefix="sqlalchemy.", poolclass=pool.NullPool)
    try:
        async with connectable.connect() as connection:
            await connection.run_sync(do_run_migrations)
    finally:
        await connectable.dispose()


def run_migrations_online() -> None:
    # intrablog.storage.migrate hands over a connection already inside its transaction.
    shared: Connection | None = config.attributes.get("connection")
    if shared is not None:
        do_run_migrations(shared)
    else:
        asyncio.run(run_async_migrations())


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
