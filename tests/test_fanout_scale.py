"""Fan-out at the design's scale (issue 7, acceptance 3), on PostgreSQL: 10,000 followers of one executive,
and an announcement channel of everyone.

The home timeline is fan-out on read (README, "Home timeline strategy"): a post is one row, visible to every
follower as soon as it commits. Here the executive posts through the real service, and within 2 s the post
must be the newest item of every one of the 10,000 home timelines: all of them checked by one set-based
query that applies the home listing's predicate to each follower (the same definition as
``PostRepository.home`` and ``storage.visibility.readable_by``), and 50 of them, drawn at random, through
the real ``TimelineService``.

The set-up is bulk SQL (the people, their follows, older posts in a channel everyone follows), not the
services: it is not what is measured.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from intrablog.config import LdapConfig
from intrablog.domain.ids import EPOCH_MS, NODE_BITS, SEQUENCE_BITS
from intrablog.domain.model import ChannelKind, PageRequest, Role, User
from intrablog.runtime import Runtime, build_runtime
from intrablog.services.posts import PostDraft
from tests.support.app_fixtures import make_settings
from tests.support.storage_data import add_channel

FOLLOWERS = 10_000
OLDER_POSTS = 20_000
SAMPLE = 50
VISIBLE_WITHIN_S = 2.0

# Every follower's newest home post, by the home listing's definition, for all followers at once: read rights
# (not deleted; no channel, a public channel, a channel they are a member of, or a site admin) and the home
# filter (their own posts, the channels and people they follow), newest first, the first one. A follower
# with an empty timeline still counts (LEFT JOIN), as one who does not see the post.
NEWEST_HOME_POST = text(
    """
    SELECT count(*) AS followers, count(*) FILTER (WHERE newest.id = :post_id) AS seeing_it
    FROM users f
    LEFT JOIN LATERAL (
        SELECT p.id FROM posts p
        WHERE p.deleted_at IS NULL
          AND (f.is_site_admin
               OR p.channel_id IS NULL
               OR p.channel_id IN (SELECT c.id FROM channels c WHERE c.visibility = 'public')
               OR p.channel_id IN (SELECT m.channel_id FROM memberships m WHERE m.user_id = f.id))
          AND (p.author_id = f.id
               OR p.channel_id IN (SELECT cf.channel_id FROM channel_follows cf WHERE cf.follower_id = f.id)
               OR p.author_id IN (SELECT uf.user_id FROM user_follows uf WHERE uf.follower_id = f.id))
        ORDER BY p.id DESC
        LIMIT 1
    ) AS newest ON true
    WHERE f.id IN (SELECT uf.follower_id FROM user_follows uf WHERE uf.user_id = :audience_of)
       OR f.id IN (SELECT cf.follower_id FROM channel_follows cf WHERE cf.channel_id = :audience_channel)
    """
)


@pytest.fixture
async def runtime(postgres_url: str, ldap_config: LdapConfig) -> AsyncIterator[Runtime]:
    built = build_runtime(make_settings(postgres_url, ldap_config, channels=[]))
    yield built
    await built.database.dispose()


def _post_id_at(when: datetime, sequence: int) -> int:
    """An id as intrablog.domain.ids makes them, for an older post (node tag 0)."""
    ms = int(when.timestamp() * 1000) - EPOCH_MS
    return (ms << (NODE_BITS + SEQUENCE_BITS)) | (sequence % (1 << SEQUENCE_BITS))


async def _populate(runtime: Runtime) -> tuple[User, int, int]:
    """The executive, 10,000 staff following them, a busy public channel everyone follows with older posts,
    and the announcement channel of everyone (the executive its poster).

    Returns the executive, the announcement channel's id and the newest older post's id.
    """
    now = datetime.now(UTC)
    async with runtime.database.unit_of_work() as uow:
        chatter = await add_channel(uow, "chatter")
        announcements = await add_channel(uow, "announcements", kind=ChannelKind.ANNOUNCEMENT)
        await uow.commit()
    async with runtime.database.engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO users (username, display_name, email, xmpp_address, active, is_site_admin, "
                "created_at, last_seen_in_directory, department) "
                "SELECT 'staff' || g, 'Staff ' || g, 'staff' || g || '@example.com', 'staff' || g || '@example.com', "
                "true, false, :now, :now, 'Sales' FROM generate_series(1, :count) AS g"
            ),
            {"now": now, "count": FOLLOWERS},
        )
        await connection.execute(
            text(
                "INSERT INTO users (username, display_name, email, xmpp_address, active, is_site_admin, created_at) "
                "VALUES ('ceo', 'Chief Executive', 'ceo@example.com', 'ceo@example.com', true, false, :now)"
            ),
            {"now": now},
        )
        await connection.execute(
            text(
                "INSERT INTO user_follows (follower_id, user_id, created_at) "
                "SELECT u.id, (SELECT id FROM users WHERE username = 'ceo'), :now FROM users u "
                "WHERE u.username LIKE 'staff%'"
            ),
            {"now": now},
        )
        await connection.execute(
            text(
                "INSERT INTO channel_follows (follower_id, channel_id, created_at) "
                "SELECT u.id, :channel, :now FROM users u WHERE u.username LIKE 'staff%'"
            ),
            {"channel": chatter.id, "now": now},
        )
        # Older traffic: the walk back through the posts must step over it for nobody (the new post is first).
        staff_ids = list(
            (await connection.execute(text("SELECT id FROM users WHERE username LIKE 'staff%'"))).scalars()
        )
        chance = random.Random(7)
        start = now - timedelta(days=1)
        rows = [
            {
                "id": _post_id_at(start + timedelta(seconds=n * 4), n),
                "author": chance.choice(staff_ids),
                "channel": chatter.id,
                "text": f"chatter {n}",
                "at": start + timedelta(seconds=n * 4),
            }
            for n in range(OLDER_POSTS)
        ]
        await connection.execute(
            text(
                "INSERT INTO posts (id, author_id, channel_id, text, thread_root, created_at) "
                "VALUES (:id, :author, :channel, :text, :id, :at)"
            ),
            rows,
        )
    async with runtime.database.unit_of_work() as uow:
        # The product's own rule for an announcement channel: every active user a member and follower.
        assert len(await uow.bindings.everyone_joins(announcements.id, now)) == FOLLOWERS + 1
        ceo = await uow.users.by_username("ceo")
        assert ceo is not None
        await uow.channels.set_membership(announcements.id, ceo.id, Role.POSTER, now)
        await uow.commit()
    async with runtime.database.engine.begin() as connection:
        await connection.execute(text("ANALYZE"))  # what autovacuum does on a live system after such growth
    return ceo, announcements.id, rows[-1]["id"]


async def _followers_seeing(runtime: Runtime, post_id: int, audience_of: int, audience_channel: int) -> tuple[int, int]:
    async with runtime.database.engine.connect() as connection:
        row = (
            await connection.execute(
                NEWEST_HOME_POST,
                {"post_id": post_id, "audience_of": audience_of, "audience_channel": audience_channel},
            )
        ).one()
    return int(row.followers), int(row.seeing_it)


async def _sample_through_the_service(runtime: Runtime, post_id: int) -> None:
    usernames = [f"staff{n}" for n in random.sample(range(1, FOLLOWERS + 1), SAMPLE)]
    async with runtime.database.unit_of_work() as uow:
        staff = await uow.users.by_usernames(usernames)
    assert len(staff) == SAMPLE
    pages = await asyncio.gather(*(runtime.services.timelines.home(user, PageRequest(limit=1)) for user in staff))
    assert [page.items[0].id for page in pages] == [post_id] * SAMPLE


@pytest.mark.parametrize("where", ["personal update", "announcement channel"])
async def test_one_post_reaches_ten_thousand_home_timelines_within_two_seconds(runtime: Runtime, where: str) -> None:
    ceo, announcements, newest_before = await _populate(runtime)
    channel = "announcements" if where == "announcement channel" else None
    # The post's own audience: the CEO's followers, or the channel's (everyone but nobody else).
    audience = (0, announcements) if channel else (ceo.id, 0)
    # The check tells timelines apart: before the post, the staff's newest item is the last chatter (the CEO
    # follows nothing and sees nothing).
    assert await _followers_seeing(runtime, newest_before, *audience) == (
        FOLLOWERS + 1 if channel else FOLLOWERS,
        FOLLOWERS,
    )

    started = time.monotonic()
    async with asyncio.timeout(VISIBLE_WITHIN_S):
        post = await runtime.services.posts.create(
            ceo, PostDraft(text="All hands at 3 pm in the atrium", channel=channel)
        )
        followers, seeing_it = await _followers_seeing(runtime, post.id, *audience)
    visible_after = time.monotonic() - started

    expected = FOLLOWERS + 1 if channel else FOLLOWERS  # the channel's audience includes the CEO
    assert (followers, seeing_it) == (expected, expected)
    await _sample_through_the_service(runtime, post.id)
    print(f"{where}: visible in all {followers} home timelines {visible_after * 1000:.0f} ms after the call")
