"""Storage adapter: async SQLAlchemy on SQLite (aiosqlite) or PostgreSQL (asyncpg), implementing the ports.

The application needs two things from here: ``SqlDatabase`` (the Database port) and ``migrate``.
"""

from intrablog.storage.database import SqlDatabase
from intrablog.storage.migrate import downgrade, migrate

__all__ = ["SqlDatabase", "downgrade", "migrate"]
