"""Posts: storing, reading back (with mentions, tags, links) and deleting, on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from intrablog.domain.model import AuthorView
from intrablog.errors import Conflict, NotFound
from intrablog.storage.database import SqlDatabase
from tests.support.storage_data import NOW, add_channel, add_user, new_post


async def test_add_returns_the_post_as_readers_see_it(database: SqlDatabase) -> None:
    async with database.unit_of_work() as uow:
        alice = await add_user(uow, "alice")
        await add_user(uow, "bob")
        await add_user(uow, "carol")
        channel = await add_channel(uow, "engineering")
        draft = new_post(
            7,
            alice,
            channel=channel,
            text="@carol @ghost @bob #release #Ops https://a.example/x https://b.example/y",
            mentions=("carol", "ghost", "bob"),
            tags=("release", "ops"),
            links=("https://a.example/x", "https://b.example/y"),
        )
        added = await uow.posts.add(draft)
        await uow.commit()

    assert added.id == 7
    assert added.author == AuthorView("alice", "Alice")
    assert (added.author_id, added.channel_id, added.channel_name) == (alice.id, channel.id, "engineering")
    assert added.text == draft.text
    assert added.created_at == draft.created_at
    assert (added.edited_at, added.deleted_at, added.in_reply_to, added.thread_root) == (None, None, None, 7)
    assert added.mentions == ("carol", "bob"), "only existing users, in the order written"
    assert added.tags == ("release", "ops")
    assert added.links == ("https://a.example/x", "https://b.example/y")
    async with database.unit_of_work() as uow:
        assert await uow.posts.get(7) == added


async def test_personal_update_and_reply(database: SqlDatabase) -> None:
    async with database.unit_of_work() as uow:
        alice = await add_user(uow, "alice")
        bob = await add_user(uow, "bob")
        root = await uow.posts.add(new_post(1, alice, mentions=("alice",)))
        reply = await uow.posts.add(new_post(2, bob, in_reply_to=1, thread_root=1, mentions=("alice",)))
        await uow.commit()

    assert root.is_personal_update
    assert root.channel_name is None
    assert root.mentions == ("alice",), "mentioning oneself is stored like any mention"
    assert (reply.in_reply_to, reply.thread_root, reply.mentions) == (1, 1, ("alice",))
    async with database.unit_of_work() as uow:
        assert await uow.posts.get(2) == reply
        assert await uow.posts.get(3) is None


async def test_a_reused_id_is_a_conflict(database: SqlDatabase) -> None:
    async with database.unit_of_work() as uow:
        alice = await add_user(uow, "alice")
        await uow.posts.add(new_post(1, alice))
        await uow.commit()
    async with database.unit_of_work() as uow:
        with pytest.raises(Conflict):
            await uow.posts.add(new_post(1, alice, text="again"))
    async with database.unit_of_work() as uow:
        stored = await uow.posts.get(1)
        assert stored is not None
        assert stored.text != "again"


async def test_a_reply_to_a_missing_post_is_a_conflict(database: SqlDatabase) -> None:
    async with database.unit_of_work() as uow:
        alice = await add_user(uow, "alice")
        await uow.commit()
    async with database.unit_of_work() as uow:
        with pytest.raises(Conflict):
            await uow.posts.add(new_post(5, alice, in_reply_to=4, thread_root=4))


async def test_unknown_author_or_channel_is_not_found(database: SqlDatabase) -> None:
    async with database.unit_of_work() as uow:
        alice = await add_user(uow, "alice")
        channel = await add_channel(uow, "engineering")
        await uow.commit()
    ghost = replace(alice, id=alice.id + 100)
    gone = replace(channel, id=channel.id + 100)
    async with database.unit_of_work() as uow:
        with pytest.raises(NotFound, match="user"):
            await uow.posts.add(new_post(1, ghost))
        with pytest.raises(NotFound, match="channel"):
            await uow.posts.add(new_post(2, alice, channel=gone))


async def test_mark_deleted_keeps_the_post_for_get_and_the_first_time(database: SqlDatabase) -> None:
    async with database.unit_of_work() as uow:
        alice = await add_user(uow, "alice")
        await uow.posts.add(new_post(1, alice, tags=("x",)))
        await uow.posts.mark_deleted(1, NOW)
        await uow.posts.mark_deleted(1, NOW + timedelta(hours=1))
        await uow.commit()

    async with database.unit_of_work() as uow:
        deleted = await uow.posts.get(1)
    assert deleted is not None
    assert deleted.deleted_at == NOW
    assert deleted.tags == ("x",)
