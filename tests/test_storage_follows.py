"""Follows of channels and of people, on SQLite and PostgreSQL."""

from __future__ import annotations

from intrablog.storage.database import SqlDatabase
from tests.support.storage_data import NOW, add_channel, add_user


async def test_follow_and_unfollow_a_channel(database: SqlDatabase) -> None:
    async with database.unit_of_work() as uow:
        alice = await add_user(uow, "alice")
        channel = await add_channel(uow, "engineering")
        assert await uow.follows.follows_channel(alice.id, channel.id) is False
        assert await uow.follows.follow_channel(alice.id, channel.id, NOW) is True
        assert await uow.follows.follow_channel(alice.id, channel.id, NOW) is False, "already following"
        await uow.commit()

    async with database.unit_of_work() as uow:
        assert await uow.follows.follows_channel(alice.id, channel.id) is True
        assert await uow.follows.unfollow_channel(alice.id, channel.id) is True
        assert await uow.follows.unfollow_channel(alice.id, channel.id) is False
        assert await uow.follows.follows_channel(alice.id, channel.id) is False
        await uow.commit()


async def test_follow_and_unfollow_a_person(database: SqlDatabase) -> None:
    async with database.unit_of_work() as uow:
        alice = await add_user(uow, "alice")
        bob = await add_user(uow, "bob")
        assert await uow.follows.follow_user(alice.id, bob.id, NOW) is True
        assert await uow.follows.follow_user(alice.id, bob.id, NOW) is False
        await uow.commit()

    async with database.unit_of_work() as uow:
        assert await uow.follows.follows_user(alice.id, bob.id) is True
        assert await uow.follows.follows_user(bob.id, alice.id) is False, "following is one way"
        assert await uow.follows.unfollow_user(alice.id, bob.id) is True
        assert await uow.follows.unfollow_user(alice.id, bob.id) is False
        assert await uow.follows.follows_user(alice.id, bob.id) is False
