"""Post creation benchmark (issue 7): posts written per second on the full dataset, against raw inserts.

    .venv/bin/python -m bench post_creation                      # SQLite and PostgreSQL, under a minute
    .venv/bin/python -m bench.post_creation --toy --backend sqlite

On a copy of the dataset (1,000,000 posts, so every index is as deep as it will be), one after the other:

- intrablog: ``PostService.create`` by 100 different people, each in a channel they follow: text rules
  and parsing, the channel and membership checks, the post's id, the post and its outbox row in one
  transaction, the event after commit;
- raw: the driver (sqlite3 / asyncpg, one kept connection) inserts the same row shape — a post row of the
  same size and its outbox row — and commits, once per post.

Posts per second on each side; goal intrablog >= 20 % of raw.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import bench
from bench import dataset
from bench._cli import run_per_backend
from bench._databases import Backend
from bench._dataset_cache import dataset_copy
from bench._raw import RawDriver, sqlite_timestamp
from intrablog.config import DatabaseConfig, LoggingConfig, Settings
from intrablog.domain.ids import IdGenerator
from intrablog.domain.model import User
from intrablog.runtime import build_runtime
from intrablog.services.posts import PostDraft

GOAL = 0.20
AUTHORS = 100
TEXT = "Status update {n}: the release went out this morning, thanks to everyone who helped #release"


@dataclass(frozen=True)
class Size:
    data: dataset.Size
    posts: int
    warmup: int


FULL = Size(dataset.FULL, posts=2000, warmup=100)
TOY = Size(dataset.TOY, posts=40, warmup=5)


@dataclass(frozen=True)
class Result:
    backend: Backend
    ours_per_s: float
    raw_per_s: float


async def _authors(backend: Backend, url: str) -> list[tuple[User, str]]:
    """(person, a public channel they follow) for the first AUTHORS readers."""
    runtime = build_runtime(Settings(database=DatabaseConfig(url=url, auto_migrate=False)))
    try:
        async with RawDriver(backend, url) as driver:
            authors: list[tuple[User, str]] = []
            for user_id in range(3, 3 + AUTHORS):
                names = await driver.fetch_column(
                    "SELECT channels.name FROM channel_follows"
                    " JOIN channels ON channels.id = channel_follows.channel_id"
                    f" WHERE follower_id = {driver.marks(1)} AND channels.visibility = 'public'"
                    " AND channels.kind <> 'announcement' ORDER BY channels.id",
                    user_id,
                )
                async with runtime.database.unit_of_work() as uow:
                    user = await uow.users.get(user_id)
                assert user is not None
                assert names, f"reader {user_id} follows no public channel"
                authors.append((user, names[0]))
            return authors
    finally:
        await runtime.database.dispose()


async def measure_ours(url: str, size: Size, authors: list[tuple[User, str]]) -> float:
    runtime = build_runtime(
        Settings(database=DatabaseConfig(url=url, auto_migrate=False), logging=LoggingConfig(level="ERROR"))
    )
    create = runtime.services.posts.create
    try:
        for n in range(size.warmup):
            author, channel = authors[n % len(authors)]
            await create(author, PostDraft(TEXT.format(n=f"w{n}"), channel))
        started = time.perf_counter()
        for n in range(size.posts):
            author, channel = authors[n % len(authors)]
            await create(author, PostDraft(TEXT.format(n=n), channel))
        return size.posts / (time.perf_counter() - started)
    finally:
        await runtime.database.dispose()


async def measure_raw(backend: Backend, url: str, size: Size, authors: list[tuple[User, str]]) -> float:
    ids = IdGenerator()
    async with RawDriver(backend, url) as driver:
        channel_ids = {
            name: channel_id
            for channel_id, name in zip(
                await driver.fetch_column("SELECT id FROM channels ORDER BY id"),
                await driver.fetch_column("SELECT name FROM channels ORDER BY id"),
                strict=True,
            )
        }
        post_sql = (
            "INSERT INTO posts (id, author_id, channel_id, text, in_reply_to, thread_root, created_at, "
            f"requires_ack, urgent) VALUES ({driver.marks(9)})"
        )
        outbox_sql = f"INSERT INTO outbox (kind, post_id, created_at) VALUES ({driver.marks(3)})"

        async def one(n: int, label: str) -> None:
            author, channel = authors[n % len(authors)]
            now = datetime.now(UTC)
            post_id = ids.next_id(now)
            stamp = sqlite_timestamp(now) if backend == "sqlite" else now
            post = (post_id, author.id, channel_ids[channel], TEXT.format(n=label), None, post_id, stamp, False, False)
            await driver.transaction([(post_sql, post), (outbox_sql, ("post", post_id, stamp))])

        for n in range(size.warmup):
            await one(n, f"w{n}")
        started = time.perf_counter()
        for n in range(size.posts):
            await one(n, str(n))
        return size.posts / (time.perf_counter() - started)


async def run(backend: Backend, size: Size, folder: Path) -> Result:
    async with dataset_copy(backend, size.data, folder, "posting") as (url, _):
        authors = await _authors(backend, url)
        ours = await measure_ours(url, size, authors)
        raw = await measure_raw(backend, url, size, authors)
    return Result(backend, ours, raw)


def report(results: list[Result], size: Size) -> str:
    lines = [f"Post creation: {size.posts:,} posts one after the other by {AUTHORS} people, on {size.data.label}"]
    for result in results:
        ratio = result.ours_per_s / result.raw_per_s
        lines.append(
            f"  {result.backend:<10} PostService.create {result.ours_per_s:7.0f} posts/s   raw INSERT+COMMIT "
            f"{result.raw_per_s:7.0f} posts/s   ratio {ratio:.2f} (goal >= {GOAL:g})"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    results, size, toy = run_per_backend(argv, "post_creation", __doc__, run, (TOY, FULL))
    print(report(results, size))
    for result in results:
        bench.record(
            bench.Row(
                "post_creation",
                "posts created per second, one at a time",
                "posts/s",
                result.ours_per_s,
                result.raw_per_s,
                f">= {GOAL:g}x",
                result.ours_per_s / result.raw_per_s >= GOAL,
                result.backend,
            ),
            toy=toy,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
