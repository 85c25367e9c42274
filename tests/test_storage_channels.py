"""Channels and memberships, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from intrablog.domain.model import ChannelKind, Membership, MemberView, Role, Visibility
from intrablog.errors import Conflict
from intrablog.storage.database import SqlDatabase
from tests.support.storage_data import NOW, add_channel, add_user


async def test_add_then_get_by_id_and_name(database: SqlDatabase) -> None:
    async with database.unit_of_work() as uow:
        alice = await add_user(uow, "alice")
        launch = await uow.channels.add(
            "launch", "Launch", "Shipping it", ChannelKind.PROJECT, Visibility.PRIVATE, alice.id, NOW
        )
        await uow.commit()

    assert (launch.name, launch.title, launch.description) == ("launch", "Launch", "Shipping it")
    assert launch.kind is ChannelKind.PROJECT
    assert launch.visibility is Visibility.PRIVATE
    assert (launch.created_by, launch.created_at) == (alice.id, NOW)
    async with database.unit_of_work() as uow:
        assert await uow.channels.get(launch.id) == launch
        assert await uow.channels.by_name("launch") == launch
        assert await uow.channels.get(launch.id + 1000) is None
        assert await uow.channels.by_name("nothing") is None


async def test_a_taken_name_is_a_conflict_and_the_transaction_goes_on(database: SqlDatabase) -> None:
    async with database.unit_of_work() as uow:
        first = await add_channel(uow, "engineering")
        with pytest.raises(Conflict, match="engineering"):
            await add_channel(uow, "engineering", visibility=Visibility.PRIVATE)
        # On PostgreSQL a failed INSERT would have aborted the transaction; this one must still commit.
        other = await add_channel(uow, "design")
        await uow.commit()

    async with database.unit_of_work() as uow:
        assert await uow.channels.by_name("engineering") == first
        assert await uow.channels.by_name("design") == other


async def test_visible_to_lists_public_and_own_private_channels_by_name(database: SqlDatabase) -> None:
    async with database.unit_of_work() as uow:
        alice = await add_user(uow, "alice")
        root = await add_user(uow, "root", site_admin=True)
        await add_channel(uow, "zeta")
        await add_channel(uow, "alpha")
        secret = await add_channel(uow, "secret", visibility=Visibility.PRIVATE)
        await add_channel(uow, "hidden", visibility=Visibility.PRIVATE)
        await uow.channels.set_membership(secret.id, alice.id, Role.MEMBER, NOW)
        await uow.commit()

    async with database.unit_of_work() as uow:
        assert [c.name for c in await uow.channels.visible_to(alice)] == ["alpha", "secret", "zeta"]
        assert [c.name for c in await uow.channels.visible_to(root)] == ["alpha", "hidden", "secret", "zeta"]


async def test_membership_join_change_role_and_leave(database: SqlDatabase) -> None:
    later = NOW + timedelta(hours=2)
    async with database.unit_of_work() as uow:
        alice = await add_user(uow, "alice")
        channel = await add_channel(uow, "engineering")
        assert await uow.channels.membership(channel.id, alice.id) is None

        joined = await uow.channels.set_membership(channel.id, alice.id, Role.MEMBER, NOW)
        promoted = await uow.channels.set_membership(channel.id, alice.id, Role.ADMIN, later)
        await uow.commit()

    assert joined == Membership(channel.id, alice.id, Role.MEMBER, NOW)
    assert promoted.role is Role.ADMIN
    assert promoted.created_at == NOW, "a role change keeps the member's original 'since'"
    async with database.unit_of_work() as uow:
        assert await uow.channels.membership(channel.id, alice.id) == promoted
        assert await uow.channels.remove_membership(channel.id, alice.id) is True
        assert await uow.channels.remove_membership(channel.id, alice.id) is False
        assert await uow.channels.membership(channel.id, alice.id) is None


async def test_members_and_member_count(database: SqlDatabase) -> None:
    async with database.unit_of_work() as uow:
        bob, alice, carol = [await add_user(uow, name) for name in ("bob", "alice", "carol")]
        channel = await add_channel(uow, "engineering")
        empty = await add_channel(uow, "empty")
        await uow.channels.set_membership(channel.id, bob.id, Role.POSTER, NOW)
        await uow.channels.set_membership(channel.id, alice.id, Role.ADMIN, NOW + timedelta(minutes=1))
        await uow.commit()

    async with database.unit_of_work() as uow:
        assert await uow.channels.members(channel.id) == [
            MemberView("alice", "Alice", Role.ADMIN, NOW + timedelta(minutes=1)),
            MemberView("bob", "Bob", Role.POSTER, NOW),
        ]
        assert await uow.channels.member_count(channel.id) == 2
        assert await uow.channels.members(empty.id) == []
        assert await uow.channels.member_count(empty.id) == 0
        assert await uow.channels.membership(channel.id, carol.id) is None


async def test_leaving_without_commit_rolls_back(database: SqlDatabase) -> None:
    async with database.unit_of_work() as uow:
        await add_channel(uow, "ephemeral")
    async with database.unit_of_work() as uow:
        assert await uow.channels.by_name("ephemeral") is None
