"""The benchmark dataset generator (bench/dataset.py) at toy size, on SQLite and PostgreSQL.

The benchmarks' figures are only as good as the data under them: these check that the generated data has
the shape DESIGN.md describes (scaled down), that intrablog reads it as its own (tokens sign in, timelines
fill, the executive's followers get an IM delivery each), and that a seed always builds the same data.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text

from bench import dataset
from intrablog.config import DatabaseConfig, Settings
from intrablog.domain.model import PageRequest
from intrablog.runtime import Runtime, build_runtime
from intrablog.services.posts import PostDraft

SIZE = dataset.TOY


async def _scalar(runtime: Runtime, sql: str) -> int:
    async with runtime.database.engine.connect() as connection:
        return int((await connection.execute(text(sql))).scalar_one())


async def test_the_dataset_has_the_designed_shape(database_url: str) -> None:
    generated = await dataset.generate(database_url, SIZE)
    runtime = build_runtime(Settings(database=DatabaseConfig(url=database_url, auto_migrate=False)))
    try:
        assert await _scalar(runtime, "SELECT count(*) FROM users") == SIZE.users
        assert await _scalar(runtime, "SELECT count(*) FROM channels") == SIZE.channels + 1
        assert await _scalar(runtime, "SELECT count(*) FROM posts") == SIZE.posts
        # Everyone follows the announcement channel and exactly channels_followed others, and people_followed
        # people, the executive among them.
        for sql, expected in [
            ("SELECT count(*) FROM channel_follows WHERE channel_id = 1", SIZE.users),
            ("SELECT count(*) FROM memberships WHERE channel_id = 1", SIZE.users),
            ("SELECT count(DISTINCT n) FROM (SELECT count(*) AS n FROM channel_follows GROUP BY follower_id) f", 1),
            ("SELECT min(n) FROM (SELECT count(*) AS n FROM channel_follows GROUP BY follower_id) f",
             SIZE.channels_followed + 1),
            ("SELECT count(DISTINCT n) FROM (SELECT count(*) AS n FROM user_follows GROUP BY follower_id) f", 1),
            ("SELECT min(n) FROM (SELECT count(*) AS n FROM user_follows GROUP BY follower_id) f",
             SIZE.people_followed),
            ("SELECT count(*) FROM user_follows WHERE user_id = 1", SIZE.users - 1),
            ("SELECT count(*) FROM user_follows WHERE user_id = follower_id", 0),
            # Following a channel made you its member; channel posts are by members; replies stay in channel.
            ("SELECT count(*) FROM channel_follows f WHERE NOT EXISTS (SELECT 1 FROM memberships m "
             "WHERE m.channel_id = f.channel_id AND m.user_id = f.follower_id)", 0),
            ("SELECT count(*) FROM posts p WHERE p.channel_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM memberships "
             "m WHERE m.channel_id = p.channel_id AND m.user_id = p.author_id)", 0),
            ("SELECT count(*) FROM posts r JOIN posts p ON p.id = r.in_reply_to WHERE r.channel_id <> p.channel_id "
             "OR r.thread_root <> p.thread_root OR r.id <= p.id", 0),
            ("SELECT count(*) FROM memberships WHERE role = 'poster'", 2),
            ("SELECT count(*) FROM channels WHERE visibility = 'private'", SIZE.channels // 10),
        ]:  # fmt: skip
            assert await _scalar(runtime, sql) == expected, sql
        assert await _scalar(runtime, "SELECT count(*) FROM posts WHERE channel_id = 1") >= SIZE.days - 1
        assert await _scalar(runtime, "SELECT count(*) FROM posts WHERE in_reply_to IS NOT NULL") > 0
        assert await _scalar(runtime, "SELECT count(*) FROM post_tags") > 0
        assert await _scalar(runtime, "SELECT count(*) FROM post_mentions") > 0

        async with runtime.database.engine.connect() as connection:
            rows = (await connection.execute(text("SELECT id, created_at FROM posts ORDER BY id"))).all()
        async with runtime.database.unit_of_work() as uow:
            newest = await uow.posts.get(rows[-1][0])
            oldest = await uow.posts.get(rows[0][0])
        assert newest is not None
        assert oldest is not None
        # Ids are intrablog's time-sortable ids: id order is time order, over the days asked for.
        assert [row[1] for row in rows] == sorted(row[1] for row in rows)
        assert dataset.END - timedelta(days=1) <= newest.created_at <= dataset.END
        assert newest.created_at - oldest.created_at > timedelta(days=SIZE.days - 1)

        # intrablog reads it as its own: a reader's token signs them in, their home page is full.
        reader = generated.readers[0]
        user = await runtime.services.accounts.authenticate(reader.token)
        assert user.username == reader.username == dataset.username(reader.user_id)
        page = await runtime.services.timelines.home(user, PageRequest(limit=20))
        assert len(page.items) == 20
        assert len(generated.readers) == SIZE.readers

        # The executive's post reaches every follower on IM (all have an address and IM on).
        async with runtime.database.unit_of_work() as uow:
            executive = await uow.users.get(generated.executive_id)
        assert executive is not None
        assert executive.username == dataset.EXECUTIVE
        post = await runtime.services.posts.create(executive, PostDraft("Town hall at noon"))
        assert await runtime.services.delivery.expand_outbox() == 1
        async with runtime.database.engine.connect() as connection:
            query = text("SELECT count(*) FROM deliveries WHERE post_id = :post").bindparams(post=post.id)
            delivered = (await connection.execute(query)).scalar_one()
        assert delivered == generated.executive_followers == SIZE.users - 1
    finally:
        await runtime.database.dispose()
    assert generated.digest == dataset.digest_of(SIZE)


def test_a_seed_always_builds_the_same_data() -> None:
    assert dataset.digest_of(SIZE) == dataset.digest_of(SIZE, dataset.SEED)
    assert dataset.digest_of(SIZE, seed=1) != dataset.digest_of(SIZE)
    assert dataset.digest_of(SIZE, xmpp_domain="sink.example.com") != dataset.digest_of(SIZE)
