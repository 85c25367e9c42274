"""Home timeline benchmark (issue 7): the first page of many readers' home timelines on the full dataset.

    .venv/bin/python -m bench home_timeline                      # SQLite and PostgreSQL, about 2 minutes
    .venv/bin/python -m bench.home_timeline --toy --backend sqlite

Measured on each backend, in one run, on a copy of the dataset (bench/dataset.py: 1,000,000 posts):

- HTTP: ``intrablog serve`` (its own process) answers ``GET /api/v1/timeline/home`` with the bearer tokens
  of 2,000 different readers, 50 keep-alive connections at once, driven by a load generator in another
  process (``bench._http_load``) for a fixed time after a warm-up → requests/s and p99. Baseline: a bare
  aiohttp hello-world (``bench._hello_server``, also its own process) under the same load generator.
  Goals: >= 10 % of the hello-world's requests/s, p99 <= 250 ms.
- Query time: the statements the timeline repository emits for each of 300 readers (captured as they are
  executed) run again with the raw driver (stdlib sqlite3 / asyncpg, one kept connection) against the
  whole read through intrablog (``TimelineService.home``: unit of work, the same statements through
  SQLAlchemy, rows to posts). Median per page; goal <= 3x.
"""

from __future__ import annotations

import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import bench
from bench import dataset
from bench._cli import run_per_backend
from bench._databases import Backend
from bench._dataset_cache import dataset_copy
from bench._processes import Load, Served, generate_load, http_get
from bench._raw import RawDriver, Statement, captured, is_read
from intrablog.config import DatabaseConfig, LoggingConfig, Settings
from intrablog.devstack.slapd import free_port
from intrablog.domain.model import PageRequest, User
from intrablog.runtime import build_runtime

PATH = "/api/v1/timeline/home"
RPS_GOAL = 0.10
P99_GOAL_MS = 250.0
QUERY_GOAL = 3.0


@dataclass(frozen=True)
class Size:
    data: dataset.Size
    connections: int
    seconds: float
    warmup: float
    viewers: int  # readers whose query time is compared with the raw driver


FULL = Size(dataset.FULL, connections=50, seconds=15.0, warmup=3.0, viewers=300)
TOY = Size(dataset.TOY, connections=50, seconds=1.0, warmup=0.5, viewers=20)


@dataclass(frozen=True)
class Result:
    backend: Backend
    intrablog: Load
    hello: Load
    ours_ms: float  # median time of one home page through intrablog
    raw_ms: float  # median time of the same statements through the raw driver
    statements: int  # per page
    page_posts: float  # mean posts on a first page (20 when the reader follows enough)


async def measure_queries(
    backend: Backend, url: str, data: dataset.Dataset, viewers: int
) -> tuple[float, float, int, float]:
    runtime = build_runtime(
        Settings(database=DatabaseConfig(url=url, auto_migrate=False), logging=LoggingConfig(level="ERROR"))
    )
    page = PageRequest(limit=20)
    try:
        async with runtime.database.unit_of_work() as uow:
            people = [await uow.users.get(reader.user_id) for reader in data.readers[:viewers]]
        readers: list[User] = [person for person in people if person is not None]
        # Warm-up pass, which also captures each reader's statements (the listener stays out of the timing).
        per_reader: list[list[Statement]] = []
        sizes: list[int] = []
        for reader in readers:
            with captured(runtime.database) as statements:
                sizes.append(len((await runtime.services.timelines.home(reader, page)).items))
            per_reader.append([(sql, parameters) for sql, parameters in statements if is_read(sql)])
        ours: list[float] = []
        for reader in readers:
            started = time.perf_counter()
            await runtime.services.timelines.home(reader, page)
            ours.append(time.perf_counter() - started)
        raw: list[float] = []
        async with RawDriver(backend, url) as driver:
            for statements in per_reader:  # warm-up: statement caches, pages in memory, as above
                await driver.fetch_counts(statements)
            for statements, size in zip(per_reader, sizes, strict=True):
                started = time.perf_counter()
                counts = await driver.fetch_counts(statements)
                raw.append(time.perf_counter() - started)
                if counts[0] != size:
                    raise RuntimeError(f"the raw driver read {counts[0]} posts where intrablog read {size}")
    finally:
        await runtime.database.dispose()
    statements_per_page = round(statistics.mean(len(statements) for statements in per_reader))
    return statistics.median(ours) * 1000, statistics.median(raw) * 1000, statements_per_page, statistics.mean(sizes)


def _config(folder: Path, url: str, port: int) -> Path:
    path = folder / "intrablog.toml"
    # The directory is never asked (readers come with bearer tokens): an address where nothing listens.
    path.write_text(
        f"""
[server]
host = "127.0.0.1"
port = {port}
public_url = "http://127.0.0.1:{port}"
secret_key = "bench-secret-key"

[database]
url = "{url}"

[ldap]
url = "ldap://127.0.0.1:{free_port()}"
sync_interval_minutes = 0

[logging]
level = "ERROR"
""",
        encoding="utf-8",
    )
    return path


async def measure_http(url: str, data: dataset.Dataset, size: Size, folder: Path) -> tuple[Load, Load]:
    requests = [http_get(PATH, {"Authorization": f"Bearer {reader.token}"}) for reader in data.readers]
    port = free_port()
    arguments = ["serve", "--config", str(_config(folder, url, port))]
    async with Served("intrablog.cli", arguments, port, requests[0], folder / "intrablog.log"):
        ours = await generate_load(port, requests, size.connections, size.seconds, size.warmup)
    hello_port = free_port()
    hello_request = http_get("/")
    async with Served("bench._hello_server", [str(hello_port)], hello_port, hello_request, folder / "hello.log"):
        hello = await generate_load(hello_port, [hello_request], size.connections, size.seconds, size.warmup)
    for name, load in (("intrablog", ours), ("hello-world", hello)):
        if not load.all_ok or not load.requests:
            raise RuntimeError(f"{name} answered {load.statuses} ({load.failures}): the figures would mean nothing")
    return ours, hello


async def run(backend: Backend, size: Size, folder: Path) -> Result:
    async with dataset_copy(backend, size.data, folder, "home") as (url, data):
        ours_ms, raw_ms, statements, page_posts = await measure_queries(backend, url, data, size.viewers)
        intrablog, hello = await measure_http(url, data, size, folder)
    return Result(backend, intrablog, hello, ours_ms, raw_ms, statements, page_posts)


def report(results: list[Result], size: Size) -> str:
    lines = [
        f"Home timeline: {size.data.label}; {size.connections} connections for {size.seconds:g} s "
        f"(after {size.warmup:g} s warm-up), {size.data.readers:,} readers' tokens"
    ]
    for result in results:
        ours, hello = result.intrablog, result.hello
        lines += [
            f"  {result.backend:<10} intrablog {ours.rps:8.0f} req/s p50 {ours.p50_ms:6.1f} ms "
            f"p99 {ours.p99_ms:6.1f} ms   hello-world {hello.rps:8.0f} req/s p99 {hello.p99_ms:6.1f} ms   "
            f"ratio {ours.rps / hello.rps:.3f}",
            f"  {'':<10} query: intrablog {result.ours_ms:.2f} ms, raw driver {result.raw_ms:.2f} ms "
            f"({result.statements} statements, {result.page_posts:.1f} posts a page), "
            f"ratio {result.ours_ms / result.raw_ms:.2f}",
        ]
    return "\n".join(lines)


def record(results: list[Result], size: Size, toy: bool) -> None:
    conns = size.connections
    for result in results:
        ours, hello, backend = result.intrablog, result.hello, result.backend
        rows = [
            bench.Row("home_timeline", f"home page req/s, {conns} connections", "req/s", ours.rps, hello.rps,
                      f">= {RPS_GOAL:g}x hello-world", ours.rps / hello.rps >= RPS_GOAL, backend),
            bench.Row("home_timeline", f"home page p99, {conns} connections", "ms", ours.p99_ms, hello.p99_ms,
                      f"p99 <= {P99_GOAL_MS:g} ms", ours.p99_ms <= P99_GOAL_MS, backend),
            bench.Row("home_timeline", "home page query, intrablog vs raw driver", "ms", result.ours_ms,
                      result.raw_ms, f"<= {QUERY_GOAL:g}x", result.ours_ms / result.raw_ms <= QUERY_GOAL, backend),
        ]  # fmt: skip
        for row in rows:
            bench.record(row, toy=toy)


def main(argv: list[str] | None = None) -> int:
    results, size, toy = run_per_backend(argv, "home_timeline", __doc__, run, (TOY, FULL))
    print(report(results, size))
    record(results, size, toy)
    return 0


if __name__ == "__main__":
    sys.exit(main())
