"""Sessions: a token hash that is live until it expires or is revoked, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from datetime import timedelta, timezone

import pytest

from intrablog.errors import Conflict
from intrablog.storage.database import SqlDatabase
from tests.support.storage_data import NOW, add_user

HASH = hashlib.sha256(b"token").hexdigest()
EXPIRES = NOW + timedelta(days=14)


async def test_a_live_session_leads_to_its_user(database: SqlDatabase) -> None:
    async with database.unit_of_work() as uow:
        alice = await add_user(uow, "alice")
        await uow.sessions.add(HASH, alice.id, NOW, EXPIRES)
        await uow.commit()

    async with database.unit_of_work() as uow:
        session = await uow.sessions.get(HASH, NOW + timedelta(days=1))
        assert await uow.sessions.get(hashlib.sha256(b"other").hexdigest(), NOW) is None
    assert session is not None
    assert (session.token_hash, session.user, session.created_at, session.expires_at) == (HASH, alice, NOW, EXPIRES)


async def test_a_session_ends_when_it_expires(database: SqlDatabase) -> None:
    async with database.unit_of_work() as uow:
        alice = await add_user(uow, "alice")
        await uow.sessions.add(HASH, alice.id, NOW, EXPIRES)
        assert await uow.sessions.get(HASH, EXPIRES - timedelta(microseconds=1)) is not None
        assert await uow.sessions.get(HASH, EXPIRES) is None
        # The same instant written in another zone compares the same in SQL.
        tokyo = timezone(timedelta(hours=9))
        assert await uow.sessions.get(HASH, (EXPIRES - timedelta(seconds=1)).astimezone(tokyo)) is not None
        assert await uow.sessions.get(HASH, EXPIRES.astimezone(tokyo)) is None


async def test_revoke_ends_a_session_once(database: SqlDatabase) -> None:
    async with database.unit_of_work() as uow:
        alice = await add_user(uow, "alice")
        await uow.sessions.add(HASH, alice.id, NOW, EXPIRES)
        await uow.commit()

    async with database.unit_of_work() as uow:
        assert await uow.sessions.revoke(HASH, NOW + timedelta(hours=1)) is True
        assert await uow.sessions.revoke(HASH, NOW + timedelta(hours=2)) is False
        assert await uow.sessions.revoke(hashlib.sha256(b"unknown").hexdigest(), NOW) is False
        await uow.commit()
    async with database.unit_of_work() as uow:
        assert await uow.sessions.get(HASH, NOW + timedelta(hours=3)) is None


async def test_a_token_hash_is_stored_once(database: SqlDatabase) -> None:
    async with database.unit_of_work() as uow:
        alice = await add_user(uow, "alice")
        await uow.sessions.add(HASH, alice.id, NOW, EXPIRES)
        await uow.commit()
    with pytest.raises(Conflict):
        async with database.unit_of_work() as uow:
            await uow.sessions.add(HASH, alice.id, NOW, EXPIRES)
