"""The home timeline's plan: walk the posts primary key backwards and stop at the limit, on both backends.

Its speed at a million posts rests on that plan (see SqlPostRepository.home); a query change that makes
either planner union index look-ups and sort instead fails here, long before a benchmark notices.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, insert, text

from intrablog.domain.model import PageRequest, Role, Visibility
from intrablog.storage.database import SqlDatabase
from intrablog.storage.models import PostRow
from tests.support.storage_data import NOW, add_channel, add_user

POSTS = 5_000


@contextmanager
def captured_statements(database: SqlDatabase) -> Iterator[list[tuple[str, Any]]]:
    statements: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_rest: Any) -> None:
        statements.append((statement, parameters))

    event.listen(database.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", record)


async def test_home_walks_the_primary_key_backwards(database: SqlDatabase) -> None:
    chance = random.Random(7)
    async with database.unit_of_work() as uow:
        people = [await add_user(uow, f"user{n}") for n in range(40)]
        channels = [
            await add_channel(uow, f"channel{n}", visibility=Visibility.PRIVATE if n % 4 == 0 else Visibility.PUBLIC)
            for n in range(12)
        ]
        viewer = people[0]
        for channel in channels[:3]:
            await uow.follows.follow_channel(viewer.id, channel.id, NOW)
        await uow.channels.set_membership(channels[0].id, viewer.id, Role.MEMBER, NOW)
        for person in people[1:6]:
            await uow.follows.follow_user(viewer.id, person.id, NOW)
        rows = [
            {
                "id": n,
                "author_id": chance.choice(people).id,
                "channel_id": chance.choice(channels).id if chance.random() < 0.7 else None,
                "text": f"post {n}",
                "thread_root": n,
                "created_at": NOW,
            }
            for n in range(1, POSTS + 1)
        ]
        await uow.session.execute(insert(PostRow), rows)
        await uow.commit()

    async with database.unit_of_work() as uow:
        if database.dialect_name == "postgresql":
            # What autovacuum does in production; SQLite gathers no statistics unless told to, so none here.
            await uow.session.execute(text("ANALYZE"))
        with captured_statements(database) as statements:
            home = await uow.posts.home(viewer, PageRequest(limit=20, before=POSTS - 100))
        statement, parameters = statements[0]
        explain = "EXPLAIN QUERY PLAN " if database.dialect_name == "sqlite" else "EXPLAIN "
        plan_rows = (await uow.session.connection()).exec_driver_sql(explain + statement, parameters)
        plan = "\n".join(str(row[-1]) for row in (await plan_rows).all())

    assert len(home) == 20
    if database.dialect_name == "sqlite":
        assert "SEARCH posts USING INDEX sqlite_autoindex_posts_1 (id<?)" in plan, plan
        assert "TEMP B-TREE FOR ORDER BY" not in plan, plan
    else:
        assert "Index Scan Backward using pk_posts on posts" in plan, plan
        assert "Sort" not in plan, plan
