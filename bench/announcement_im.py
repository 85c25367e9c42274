"""Announcement benchmark (issue 7): one HR announcement to every IM user (9,999 people) through Prosody.

    .venv/bin/python -m bench announcement_im                      # SQLite and PostgreSQL, about a minute
    .venv/bin/python -m bench.announcement_im --toy --backend sqlite

A Prosody of its own serves the bridge's component (``blog.example.com``) and a second one, the sink
(``sink.example.com``, ``bench._xmpp_sink``, a process of its own): the dataset's people get their XMPP
addresses there, so every message crosses Prosody's router as it would to 10,000 people's clients, and the
sink counts each by (recipient, origin-id) — what is lost and what is duplicated is counted exactly at the
receiving side. Measured in one run, on a copy of the dataset:

- raw: one component connection sends the same messages the bridge would (chat from
  ``announcements@blog.example.com/blog``, origin-id, receipt request, a body of the same shape) to every
  recipient, as fast as it can; the clock stops at the last distinct arrival;
- bridge: ``hr`` posts to the announcement channel (``PostService.create``) while the outbound worker is
  stopped, then the worker starts: outbox expansion to 9,999 deliveries, batches sent and each confirmed
  by an iq ping, the delivery table kept; the clock runs from the worker's start to the last arrival.

Goal: bridge time <= 2x raw, with 0 lost and 0 duplicated.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

import bench
from bench import dataset
from bench._cli import run_per_backend
from bench._databases import Backend
from bench._dataset_cache import dataset_copy
from bench._processes import JsonLinesChild
from bench._raw import RawDriver
from bench.xmpp_relay import COMPONENT, SECRET, TIMEOUT, close_raw_component, raw_component, with_bridge
from bridges.xmpp import component as stanzas
from intrablog.config import DatabaseConfig, LoggingConfig, ServerConfig, Settings, XmppConfig
from intrablog.devstack.prosody import Prosody, lua_string
from intrablog.devstack.slapd import free_port
from intrablog.runtime import build_runtime
from intrablog.services.posts import PostDraft

SINK = "sink.example.com"
SINK_SECRET = "bench-sink-secret"  # a throwaway Prosody's component secret
SENDER = f"{dataset.ANNOUNCEMENTS}@{COMPONENT}/blog"
TEXT = "The office is closed on Friday for the move; please take your laptop home on Thursday evening."
GOAL = 2.0


@dataclass(frozen=True)
class Arrivals:
    expected: int
    distinct: int
    total: int
    seconds: float  # from the start to the last distinct arrival

    @property
    def lost(self) -> int:
        return self.expected - self.distinct

    @property
    def duplicated(self) -> int:
        return self.total - self.distinct


@dataclass(frozen=True)
class Result:
    backend: Backend
    raw: Arrivals
    bridge: Arrivals
    batch_size: int

    @property
    def ratio(self) -> float:
        return self.bridge.seconds / self.raw.seconds

    @property
    def met(self) -> bool:
        counts = (self.raw.lost, self.raw.duplicated, self.bridge.lost, self.bridge.duplicated)
        return self.ratio <= GOAL and not any(counts)


class Sink:
    """The sink process, seen from here."""

    def __init__(self, port: int) -> None:
        self._child = JsonLinesChild("bench._xmpp_sink", [str(port), SINK, SINK_SECRET], timeout=TIMEOUT)

    async def __aenter__(self) -> Sink:
        await self._child.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._child.stop()

    async def arm(self, expected: int, prefix: str) -> None:
        await self._child.send(["expect", expected, prefix])
        assert await self._child.receive() == "armed"

    async def count(self, expected: int, started: float) -> Arrivals:
        summary = await self._child.receive()
        return Arrivals(expected, summary["distinct"], summary["total"], summary["last"] - started)


async def measure_raw(port: int, jids: list[str], sink: Sink) -> Arrivals:
    component = await raw_component(port)
    try:
        await sink.arm(len(jids), "raw-")
        started = time.monotonic()
        for jid in jids:
            body = f"{dataset.ANNOUNCER}: {TEXT}\nhttp://bench.invalid/posts/1234567890123456789"
            stanzas.send_chat(
                component, to=jid, sender=SENDER, body=body, origin_id="raw-1", stanza_id=None, request_receipt=True
            )
        return await sink.count(len(jids), started)
    finally:
        await close_raw_component(component)


async def measure_bridge(url: str, data: dataset.Dataset, port: int, sink: Sink, expected: int) -> tuple[Arrivals, int]:
    config = XmppConfig(enabled=True, port=port, domain=COMPONENT, secret=SecretStr(SECRET))
    runtime = build_runtime(
        Settings(
            server=ServerConfig(public_url="http://bench.invalid"),
            database=DatabaseConfig(url=url, auto_migrate=False),
            xmpp=config,
            logging=LoggingConfig(level="ERROR"),
        )
    )
    try:
        bridge, worker = await with_bridge(runtime, config)
        try:
            async with runtime.database.unit_of_work() as uow:
                announcer = await uow.users.get(data.announcer_id)
            assert announcer is not None
            # The worker is stopped: the post and its one outbox row are stored, nothing is expanded yet.
            post = await runtime.services.posts.create(announcer, PostDraft(TEXT, data.announcement_channel))
            await sink.arm(expected, f"post-{post.id}")
            started = time.monotonic()
            await worker.start()
            arrivals = await sink.count(expected, started)
        finally:
            await worker.stop()
            await bridge.stop()
    finally:
        await runtime.database.dispose()
    return arrivals, config.batch_size


async def run(backend: Backend, size: dataset.Size, folder: Path) -> Result:
    sink_component = f"Component {lua_string(SINK)}\n    component_secret = {lua_string(SINK_SECRET)}\n"
    prosody = Prosody(
        folder / f"prosody-{backend}", free_port(), free_port(), component_secret=SECRET, muc_domain=None,
        extra_config=sink_component,
    )  # fmt: skip
    async with dataset_copy(backend, size, folder, "announcement") as (url, data):
        async with RawDriver(backend, url) as driver:
            # Everyone's IM address on the sink's domain; the author gets no copy of their own post.
            await driver.transaction([(f"UPDATE users SET xmpp_address = username || '@{SINK}'", ())])
            jids = await driver.fetch_column(
                f"SELECT xmpp_address FROM users WHERE id <> {driver.marks(1)} ORDER BY id", data.announcer_id
            )
        prosody.start()
        try:
            async with Sink(prosody.component_port) as sink:
                raw = await measure_raw(prosody.component_port, jids, sink)
                bridge, batch_size = await measure_bridge(url, data, prosody.component_port, sink, len(jids))
        finally:
            prosody.stop()
    return Result(backend, raw, bridge, batch_size)


def report(results: list[Result], size: dataset.Size) -> str:
    lines = [f"Announcement to every IM user through Prosody, counted at the sink component, on {size.label}"]
    for r in results:
        lines += [
            f"  {r.backend:<10} raw component sends {r.raw.seconds * 1000:8.1f} ms ({r.raw.distinct:,} of "
            f"{r.raw.expected:,}, lost {r.raw.lost}, duplicated {r.raw.duplicated})",
            f"  {'':<10} bridge, batch {r.batch_size:<4} {r.bridge.seconds * 1000:8.1f} ms ({r.bridge.distinct:,} of "
            f"{r.bridge.expected:,}, lost {r.bridge.lost}, duplicated {r.bridge.duplicated})   ratio {r.ratio:.2f} "
            f"(goal <= {GOAL:g}, 0 lost, 0 duplicated: {'met' if r.met else 'MISSED'})",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    results, size, toy = run_per_backend(argv, "announcement_im", __doc__, run, (dataset.TOY, dataset.FULL))
    print(report(results, size))
    for r in results:
        bench.note(
            f"announcement_im on {r.backend}",
            f"raw: {r.raw.distinct} of {r.raw.expected} arrived, {r.raw.lost} lost, {r.raw.duplicated} duplicated; "
            f"bridge: {r.bridge.distinct} of {r.bridge.expected}, {r.bridge.lost} lost, {r.bridge.duplicated} "
            "duplicated",
        )
        bench.record(
            bench.Row(
                "announcement_im",
                f"announcement to {r.bridge.expected:,} IM users (lost {r.bridge.lost}, dup {r.bridge.duplicated})",
                "ms",
                r.bridge.seconds * 1000,
                r.raw.seconds * 1000,
                f"<= {GOAL:g}x, 0 lost, 0 dup",
                r.met,
                r.backend,
            ),
            toy=toy,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
