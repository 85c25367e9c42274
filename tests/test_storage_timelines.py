"""Listings: home, channel, author, mentions and threads; read rights, paging and order.

One small world is built per test (and per backend). Private channels are the point: no listing may show a
post of a private channel to someone who is not a member of it (site admins excepted).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import event

from intrablog.domain.model import PageRequest, Post, Role, User, Visibility
from intrablog.storage.database import SqlDatabase
from tests.support.storage_data import NOW, add_channel, add_user, new_post

EVERYTHING = PageRequest(limit=100)


@dataclass(frozen=True)
class World:
    alice: User  # the viewer: follows bob, #eng, #secret (no longer a member) and #club (a member)
    bob: User
    carol: User
    dave: User  # member of #secret and #club
    root: User  # site admin, member of nothing
    eng: int
    secret: int


@pytest.fixture
async def world(database: SqlDatabase) -> World:
    async with database.unit_of_work() as uow:
        alice, bob, carol, dave = [await add_user(uow, name) for name in ("alice", "bob", "carol", "dave")]
        root = await add_user(uow, "root", site_admin=True)
        eng = await add_channel(uow, "eng")
        misc = await add_channel(uow, "misc")
        secret = await add_channel(uow, "secret", visibility=Visibility.PRIVATE)
        club = await add_channel(uow, "club", visibility=Visibility.PRIVATE)
        for channel in (secret, club):
            await uow.channels.set_membership(channel.id, dave.id, Role.MEMBER, NOW)
        await uow.channels.set_membership(club.id, alice.id, Role.MEMBER, NOW)
        await uow.follows.follow_user(alice.id, bob.id, NOW)
        for channel in (eng, secret, club):
            await uow.follows.follow_channel(alice.id, channel.id, NOW)

        for post in (
            new_post(1, alice),
            new_post(2, bob),
            new_post(3, carol),
            new_post(4, carol, channel=eng),
            new_post(5, carol, channel=misc),
            new_post(6, bob, channel=secret),
            new_post(7, dave, channel=club),
            new_post(8, bob, channel=misc),
            new_post(9, alice, channel=eng),
            new_post(10, dave, channel=secret, mentions=("alice",)),
            new_post(11, carol, mentions=("alice",), tags=("hello",)),
            new_post(20, carol, channel=eng),
            new_post(21, bob, channel=eng, in_reply_to=20, thread_root=20),
            new_post(22, dave, channel=eng, in_reply_to=21, thread_root=20),
            new_post(23, carol, channel=eng, in_reply_to=20, thread_root=20),
            new_post(30, dave, channel=secret),
            new_post(31, dave, channel=secret, in_reply_to=30, thread_root=30),
        ):
            await uow.posts.add(post)
        await uow.posts.mark_deleted(9, NOW)
        await uow.posts.mark_deleted(22, NOW)
        await uow.commit()
    return World(alice, bob, carol, dave, root, eng.id, secret.id)


def ids(posts: list[Post]) -> list[int]:
    return [post.id for post in posts]


async def test_home_holds_own_posts_followed_channels_and_people_readable_and_not_deleted(
    database: SqlDatabase, world: World
) -> None:
    async with database.unit_of_work() as uow:
        home = await uow.posts.home(world.alice, EVERYTHING)
    # Not: 3 and 5 (nobody followed), 6 and 10 (private #secret, alice not a member), 9 and 22 (deleted),
    # 30 and 31 (#secret), 11 (carol is not followed; a mention alone does not bring a post home).
    assert ids(home) == [23, 21, 20, 8, 7, 4, 2, 1]


async def test_home_of_someone_following_nothing_is_their_own_posts(database: SqlDatabase, world: World) -> None:
    async with database.unit_of_work() as uow:
        assert ids(await uow.posts.home(world.carol, EVERYTHING)) == [23, 20, 11, 5, 4, 3]
        assert await uow.posts.home(world.root, EVERYTHING) == []


async def test_home_pages_backwards_with_the_cursor(database: SqlDatabase, world: World) -> None:
    pages: list[list[int]] = []
    before: int | None = None
    async with database.unit_of_work() as uow:
        while True:
            page = await uow.posts.home(world.alice, PageRequest(limit=3, before=before))
            if not page:
                break
            pages.append(ids(page))
            before = page[-1].id
    assert pages == [[23, 21, 20], [8, 7, 4], [2, 1]]


async def test_by_author_hides_private_channels_from_non_members(database: SqlDatabase, world: World) -> None:
    async with database.unit_of_work() as uow:
        assert ids(await uow.posts.by_author(world.bob.id, world.alice, EVERYTHING)) == [21, 8, 2]
        assert ids(await uow.posts.by_author(world.bob.id, world.dave, EVERYTHING)) == [21, 8, 6, 2]
        assert ids(await uow.posts.by_author(world.bob.id, world.root, EVERYTHING)) == [21, 8, 6, 2]
        assert ids(await uow.posts.by_author(world.bob.id, world.alice, PageRequest(limit=1, before=21))) == [8]
        assert ids(await uow.posts.by_author(world.alice.id, world.alice, EVERYTHING)) == [1], "9 is deleted"


async def test_mentioning_hides_private_channels_from_non_members(database: SqlDatabase, world: World) -> None:
    async with database.unit_of_work() as uow:
        mentions = await uow.posts.mentioning(world.alice, EVERYTHING)
        assert ids(mentions) == [11]
        assert mentions[0].mentions == ("alice",)
        assert mentions[0].tags == ("hello",)
        assert ids(await uow.posts.mentioning(world.alice, PageRequest(limit=5, before=11))) == []


async def test_mentioning_shows_private_mentions_to_a_member(database: SqlDatabase, world: World) -> None:
    async with database.unit_of_work() as uow:
        await uow.channels.set_membership(world.secret, world.alice.id, Role.MEMBER, NOW)
        assert ids(await uow.posts.mentioning(world.alice, EVERYTHING)) == [11, 10]
        # Already following #secret: its posts come home as soon as she belongs to it.
        assert ids(await uow.posts.home(world.alice, EVERYTHING)) == [31, 30, 23, 21, 20, 10, 8, 7, 6, 4, 2, 1]


async def test_thread_is_oldest_first_without_deleted_or_unreadable_posts(database: SqlDatabase, world: World) -> None:
    async with database.unit_of_work() as uow:
        assert ids(await uow.posts.thread(20, world.alice)) == [20, 21, 23]
        assert await uow.posts.thread(30, world.alice) == []
        assert ids(await uow.posts.thread(30, world.dave)) == [30, 31]
        assert ids(await uow.posts.thread(30, world.root)) == [30, 31]
        assert await uow.posts.thread(999, world.alice) == []


async def test_in_channel_lists_the_channels_posts_newest_first(database: SqlDatabase, world: World) -> None:
    async with database.unit_of_work() as uow:
        assert ids(await uow.posts.in_channel(world.eng, EVERYTHING)) == [23, 21, 20, 4]
        assert ids(await uow.posts.in_channel(world.eng, PageRequest(limit=2, before=21))) == [20, 4]
        assert ids(await uow.posts.in_channel(world.secret, EVERYTHING)) == [31, 30, 10, 6]


@contextmanager
def counting_statements(database: SqlDatabase) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(database.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", record)


async def test_a_listing_is_two_statements_whatever_its_length(database: SqlDatabase, world: World) -> None:
    async with database.unit_of_work() as uow:
        await uow.posts.get(1)  # connect and begin outside the count
        with counting_statements(database) as statements:
            home = await uow.posts.home(world.alice, EVERYTHING)
            mentions = await uow.posts.mentioning(world.alice, EVERYTHING)
    assert len(home) == 8
    assert len(mentions) == 1
    assert len(statements) == 4, "posts + (mentions, tags, links), per listing; no query per post"
