"""Schema migrations, run by alembic from the repository's ``alembic/`` folder, called from code.

``migrate(url)`` is what the application runs at start (``database.auto_migrate``) and what the tests use to
build their template databases; ``alembic`` on the command line reads the same scripts.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic.config import Config
from sqlalchemy import Connection, NullPool, text
from sqlalchemy.ext.asyncio import create_async_engine

import intrablog
from alembic import command
from intrablog.storage.database import ensure_sqlite_folder

# The project is installed editable: the package's parent is the repository, which holds alembic/.
ALEMBIC_DIR = Path(intrablog.__file__).resolve().parents[1] / "alembic"
# Any constant, as long as it is the same in every process: one node migrates, the others wait for it.
_MIGRATION_LOCK_KEY = 0x1B7A_B106


def alembic_config() -> Config:
    """Alembic's configuration without an ini file: the scripts' folder, nothing else."""
    config = Config()
    config.set_main_option("script_location", str(ALEMBIC_DIR))
    return config


async def migrate(url: str, revision: str = "head") -> None:
    """Upgrade the database at ``url`` to ``revision`` (the newest by default)."""
    await _run(url, lambda config: command.upgrade(config, revision))


async def downgrade(url: str, revision: str) -> None:
    """Downgrade the database at ``url`` to ``revision`` (``"base"`` removes every table)."""
    await _run(url, lambda config: command.downgrade(config, revision))


async def _run(url: str, action: Callable[[Config], None]) -> None:
    ensure_sqlite_folder(url)
    # A plain engine, not the application's: on SQLite foreign keys stay off while tables are rebuilt (batch
    # mode copies and drops tables, and with them on a drop would cascade into the children).
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_on_connection, action)
    finally:
        await engine.dispose()


def _on_connection(connection: Connection, action: Callable[[Config], None]) -> None:
    if connection.dialect.name == "postgresql":
        # Several nodes starting at once with auto_migrate: the lock ends with this transaction.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
    config = alembic_config()
    # alembic/env.py runs on this connection (and transaction) instead of opening its own engine.
    config.attributes["connection"] = connection
    action(config)
