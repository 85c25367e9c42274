"""UTCDateTime: stored in UTC, read back timezone-aware in UTC, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from intrablog.domain.model import ChannelKind, Visibility
from intrablog.storage.database import SqlDatabase
from intrablog.storage.types import UTCDateTime

KOLKATA = timezone(timedelta(hours=5, minutes=30))
WRITTEN = datetime(2025, 3, 10, 9, 30, 15, 123456, tzinfo=KOLKATA)


async def test_an_aware_datetime_comes_back_equal_and_in_utc(database: SqlDatabase) -> None:
    async with database.unit_of_work() as uow:
        channel = await uow.channels.add("t", "T", "", ChannelKind.TEAM, Visibility.PUBLIC, None, WRITTEN)
        await uow.commit()
    async with database.unit_of_work() as uow:
        stored = await uow.channels.get(channel.id)
        raw = (await uow.session.execute(text("SELECT created_at FROM channels"))).scalar_one()

    assert stored is not None
    assert stored.created_at == WRITTEN
    assert stored.created_at.tzinfo is UTC
    assert stored.created_at == datetime(2025, 3, 10, 4, 0, 15, 123456, tzinfo=UTC)
    if database.dialect_name == "sqlite":
        # Text in one zone and one format: text order is time order for the comparisons made in SQL.
        assert raw == "2025-03-10 04:00:15.123456"
    else:
        assert raw == WRITTEN


async def test_a_naive_datetime_is_refused(database: SqlDatabase) -> None:
    with pytest.raises(ValueError, match="naive"):
        UTCDateTime().process_bind_param(datetime(2025, 3, 10, 9, 30), database.engine.dialect)


async def test_none_stays_none(database: SqlDatabase) -> None:
    assert UTCDateTime().process_bind_param(None, database.engine.dialect) is None
    assert UTCDateTime().process_result_value(None, database.engine.dialect) is None
