"""Fan-out benchmark (issue 7): one post by the executive, whom everyone else follows (9,999 followers).

    .venv/bin/python -m bench fanout                      # SQLite and PostgreSQL, under a minute
    .venv/bin/python -m bench.fanout --toy --backend sqlite

On a copy of the dataset, each round the executive posts (``PostService.create``: one post row, one outbox
row; nothing per follower) and then:

- IM fan-out: the real code path, ``DeliveryService.expand_outbox`` (one ``INSERT … SELECT`` builds a
  delivery for every follower with IM on), against the raw driver inserting the same delivery rows (the
  recipients known in advance) with its batch insert (``executemany``) in one transaction. Median over
  the rounds; goal <= 8x.
- Home-timeline visibility, fan-out on read: the first home page of 200 of the executive's followers,
  read through ``TimelineService.home``, must start with that post (checked), against the same
  statements through the raw driver. Median page time; goal <= 3x, the home page's own goal. Fan-out on
  write would instead have written a timeline row per follower at posting time: the raw batch insert
  above is what that costs at the least.
"""

from __future__ import annotations

import statistics
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
from bench._raw import RawDriver, Statement, captured, is_read, sqlite_timestamp
from intrablog.config import DatabaseConfig, LoggingConfig, Settings
from intrablog.domain.model import PageRequest, User
from intrablog.runtime import Runtime, build_runtime
from intrablog.services.posts import PostDraft

EXPANSION_GOAL = 8.0
VISIBILITY_GOAL = 3.0
_DELIVERY_COLUMNS = "recipient_id, post_id, reason, state, origin_id, created_at"


@dataclass(frozen=True)
class Size:
    data: dataset.Size
    rounds: int
    readers: int


FULL = Size(dataset.FULL, rounds=5, readers=200)
TOY = Size(dataset.TOY, rounds=2, readers=10)


@dataclass(frozen=True)
class Result:
    backend: Backend
    followers: int
    deliveries: int  # made by one expansion
    expand_ms: float
    raw_insert_ms: float
    home_ms: float
    raw_home_ms: float


async def _expansions(
    runtime: Runtime, driver: RawDriver, executive: User, size: Size
) -> tuple[int, float, float, int]:
    """(deliveries per expansion, median ms ours, median ms raw, the last post's id)."""
    followers = await driver.fetch_column(
        f"SELECT follower_id FROM user_follows WHERE user_id = {driver.marks(1)} AND im_delivery", executive.id
    )
    insert = f"INSERT INTO deliveries ({_DELIVERY_COLUMNS}) VALUES ({driver.marks(6)})"
    ours: list[float] = []
    raw: list[float] = []
    deliveries = post_id = 0
    for n in range(size.rounds + 1):  # round 0 warms up
        post = await runtime.services.posts.create(executive, PostDraft(f"All hands at noon, round {n} #allhands"))
        started = time.perf_counter()
        expanded = await runtime.services.delivery.expand_outbox()
        elapsed = time.perf_counter() - started
        assert expanded == 1, f"expected the one outbox row, expanded {expanded}"
        made = await driver.fetch_column(f"SELECT count(*) FROM deliveries WHERE post_id = {driver.marks(1)}", post.id)
        deliveries, post_id = int(made[0]), post.id
        now = datetime.now(UTC)
        stamp = sqlite_timestamp(now) if driver.backend == "sqlite" else now
        rows = [(follower, post.id, "person", "pending", f"raw-{n}", stamp) for follower in followers]
        raw_started = time.perf_counter()
        await driver.insert_many(insert, rows)
        raw_elapsed = time.perf_counter() - raw_started
        if n:
            ours.append(elapsed)
            raw.append(raw_elapsed)
    return deliveries, statistics.median(ours) * 1000, statistics.median(raw) * 1000, post_id


async def _visibility(
    runtime: Runtime, driver: RawDriver, data: dataset.Dataset, size: Size, post_id: int
) -> tuple[float, float]:
    page = PageRequest(limit=20)
    async with runtime.database.unit_of_work() as uow:
        found = [await uow.users.get(reader.user_id) for reader in data.readers[: size.readers]]
    readers = [reader for reader in found if reader is not None]
    statements: list[list[Statement]] = []
    for reader in readers:
        with captured(runtime.database) as executed:
            first = (await runtime.services.timelines.home(reader, page)).items[0]
        if first.id != post_id:
            raise RuntimeError(f"{reader.username}'s home page does not start with the executive's new post")
        statements.append([(sql, parameters) for sql, parameters in executed if is_read(sql)])
    ours: list[float] = []
    for reader in readers:
        started = time.perf_counter()
        await runtime.services.timelines.home(reader, page)
        ours.append(time.perf_counter() - started)
    for each in statements:  # warm the raw side the same way
        await driver.fetch_counts(each)
    raw: list[float] = []
    for each in statements:
        started = time.perf_counter()
        await driver.fetch_counts(each)
        raw.append(time.perf_counter() - started)
    return statistics.median(ours) * 1000, statistics.median(raw) * 1000


async def run(backend: Backend, size: Size, folder: Path) -> Result:
    async with dataset_copy(backend, size.data, folder, "fanout") as (url, data):
        runtime = build_runtime(
            Settings(database=DatabaseConfig(url=url, auto_migrate=False), logging=LoggingConfig(level="ERROR"))
        )
        try:
            async with runtime.database.unit_of_work() as uow:
                executive = await uow.users.get(data.executive_id)
            assert executive is not None
            async with RawDriver(backend, url) as driver:
                deliveries, expand_ms, raw_ms, post_id = await _expansions(runtime, driver, executive, size)
                home_ms, raw_home_ms = await _visibility(runtime, driver, data, size, post_id)
        finally:
            await runtime.database.dispose()
    return Result(backend, data.executive_followers, deliveries, expand_ms, raw_ms, home_ms, raw_home_ms)


def report(results: list[Result], size: Size) -> str:
    lines = [f"Fan-out: one post by the executive, median of {size.rounds} rounds, on {size.data.label}"]
    for r in results:
        lines += [
            f"  {r.backend:<10} IM expansion {r.expand_ms:7.1f} ms ({r.deliveries:,} deliveries for {r.followers:,} "
            f"followers)   raw batch insert {r.raw_insert_ms:7.1f} ms   ratio {r.expand_ms / r.raw_insert_ms:.2f} "
            f"(goal <= {EXPANSION_GOAL:g})",
            f"  {'':<10} home page of {size.readers} followers, post first: {r.home_ms:.2f} ms   raw driver "
            f"{r.raw_home_ms:.2f} ms   ratio {r.home_ms / r.raw_home_ms:.2f} (goal <= {VISIBILITY_GOAL:g}); written "
            f"per follower at posting time: nothing",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    results, size, toy = run_per_backend(argv, "fanout", __doc__, run, (TOY, FULL))
    print(report(results, size))
    for r in results:
        if r.deliveries != r.followers:
            raise RuntimeError(f"{r.backend}: {r.deliveries} deliveries for {r.followers} followers")
        bench.record(
            bench.Row(
                "fanout",
                f"IM expansion of one post to {r.followers:,} followers vs raw batch insert",
                "ms",
                r.expand_ms,
                r.raw_insert_ms,
                f"<= {EXPANSION_GOAL:g}x",
                r.expand_ms / r.raw_insert_ms <= EXPANSION_GOAL,
                r.backend,
            ),
            toy=toy,
        )
        bench.record(
            bench.Row(
                "fanout",
                "followers' home page shows it (fan-out on read) vs raw driver",
                "ms",
                r.home_ms,
                r.raw_home_ms,
                f"<= {VISIBILITY_GOAL:g}x",
                r.home_ms / r.raw_home_ms <= VISIBILITY_GOAL,
                r.backend,
            ),
            toy=toy,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
