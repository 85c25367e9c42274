"""SSE push benchmark (issue 5, item 6): one new post to N open streams, intrablog against bare aiohttp.

    .venv/bin/python -m bench.live_push            # 2,000 and 8,000 connections (about a minute)
    .venv/bin/python -m bench.live_push --toy      # 50 connections, seconds (also INTRABLOG_BENCH_TOY=1)

Everything runs on 127.0.0.1, in one run on the same machine:

- intrablog: the real application (a slapd of its own with the demo directory, a SQLite file) serves N
  streams of the engineering channel page (``/live/channels/engineering``, signed in as the four demo
  people in turn); the clock starts when ``POST /api/v1/posts`` is sent and stops when the last of the N
  connections has received the post: request, sign-in check, the post's transaction, the event, the hub's
  matching and read-rights decision, rendering and the N writes.
- bare: an aiohttp handler per stream that only holds the response open; ``POST /broadcast`` writes one
  frame of the same size to every held response. Same clock.

The clients are separate processes holding raw HTTP/1.1 connections. Each size runs a warm-up round and
then ``rounds`` measured rounds; the median is reported. The ratio intrablog / bare has the goal <= 2x.
The time the server spent in its own write loop (hub dispatch vs the bare loop) is reported beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bench
from bench._sse_clients import client_worker, marker

DEMO_USERS = ("alice", "bob", "carol", "dave")
CHANNEL = "engineering"
GOAL = 2.0
TIMEOUT_S = 120.0
FULL_SIZES = (2000, 8000)
TOY_SIZES = (50,)


@dataclass(frozen=True)
class Size:
    connections: tuple[int, ...]
    rounds: int
    workers: int


FULL = Size(FULL_SIZES, rounds=5, workers=2)
TOY = Size(TOY_SIZES, rounds=3, workers=1)


@dataclass(frozen=True)
class PushResult:
    connections: int
    intrablog_s: float
    bare_s: float
    intrablog_server_s: float
    bare_server_s: float
    frame_bytes: int

    @property
    def ratio(self) -> float:
        return self.intrablog_s / self.bare_s


def raise_fd_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else max(soft, needed)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    if wanted < needed:
        raise SystemExit(f"live_push needs {needed} file descriptors; the hard limit is {hard}")


async def _queue_get(queue: Any) -> Any:
    # A process-shared queue blocks: a thread waits for it, within the benchmark's time limit.
    return await asyncio.get_running_loop().run_in_executor(None, lambda: queue.get(True, TIMEOUT_S))


async def measure(
    port: int,
    requests: list[bytes],
    size: Size,
    trigger: Callable[[int], Awaitable[None]],
    server_time: Callable[[], float],
    connected: Callable[[], int],
) -> tuple[float, float]:
    """Hold the connections in worker processes; median (client latency, server write time) over the rounds."""
    context = multiprocessing.get_context("spawn")
    ready, results, done = context.Queue(), context.Queue(), context.Event()
    shares = [requests[index :: size.workers] for index in range(size.workers)]
    total_rounds = size.rounds + 1  # round 0 warms up (templates, statements, caches) and is not counted
    workers = [
        context.Process(target=client_worker, args=(port, share, total_rounds, ready, results, done), daemon=True)
        for share in shares
        if share
    ]
    for worker in workers:
        worker.start()
    try:
        for _ in workers:
            answer = await _queue_get(ready)
            if not isinstance(answer, int):
                raise RuntimeError(str(answer))
        for _ in range(int(TIMEOUT_S / 0.02)):
            if connected() >= len(requests):
                break
            await asyncio.sleep(0.02)
        latencies: list[float] = []
        server: list[float] = []
        for round_number in range(total_rounds):
            started = time.monotonic()
            await trigger(round_number)
            arrivals = [await _queue_get(results) for _ in workers]
            assert all(number == round_number for number, _ in arrivals), arrivals
            if round_number:
                latencies.append(max(moment for _, moment in arrivals) - started)
                server.append(server_time())
        return statistics.median(latencies), statistics.median(server)
    finally:
        done.set()
        for worker in workers:
            worker.join(10)
            if worker.is_alive():
                worker.kill()
                worker.join(5)


def _request(path: str, headers: dict[str, str]) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", "Accept: text/event-stream"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def run(size: Size, workdir: Path) -> list[PushResult]:
    # Imported here: the client processes import this module too, and need none of it.
    from aiohttp import ClientSession

    from bench._bare_sse import BareBroadcast
    from bench._intrablog_server import IntrablogServer

    results: list[PushResult] = []
    async with IntrablogServer(workdir) as intrablog, BareBroadcast() as bare, ClientSession() as http:
        tokens = [await intrablog.sign_in(http, user) for user in DEMO_USERS]
        author = tokens[0]
        for connections in size.connections:
            requests = [
                _request(f"/live/channels/{CHANNEL}", {"Authorization": f"Bearer {tokens[index % len(tokens)]}"})
                for index in range(connections)
            ]

            async def post(round_number: int) -> None:
                await intrablog.post(http, author, f"Status {marker(round_number).decode()} all systems normal")

            intrablog_s, intrablog_server_s = await measure(
                intrablog.port, requests, size, post, intrablog.last_push_seconds, intrablog.stream_count
            )
            intrablog.close_streams()
            frame_bytes = intrablog.last_frame_bytes()

            async def broadcast(round_number: int, frame_bytes: int = frame_bytes) -> None:
                await bare.broadcast(http, round_number, frame_bytes)

            bare_requests = [_request("/sse", {}) for _ in range(connections)]
            bare_s, bare_server_s = await measure(
                bare.port, bare_requests, size, broadcast, bare.last_loop_seconds, bare.stream_count
            )
            bare.close_streams()
            results.append(PushResult(connections, intrablog_s, bare_s, intrablog_server_s, bare_server_s, frame_bytes))
    return results


def report(results: list[PushResult], size: Size, toy: bool = False) -> str:
    def ms(seconds: float) -> str:
        return f"{seconds * 1000:8.1f} ms"

    lines = [
        f"SSE push: one post to N open streams, median of {size.rounds} rounds, "
        f"{size.workers} client process(es), goal intrablog/bare <= {GOAL:g}x"
    ]
    for result in results:
        verdict = "toy size: no goal" if toy else ("met" if result.ratio <= GOAL else "MISSED")
        lines.append(
            f"  {result.connections:6d} connections  intrablog {ms(result.intrablog_s)}  bare aiohttp "
            f"{ms(result.bare_s)}  ratio {result.ratio:5.2f}x ({verdict})   server write loop: intrablog "
            f"{ms(result.intrablog_server_s)}, bare {ms(result.bare_server_s)}   frame {result.frame_bytes} bytes"
        )
    return "\n".join(lines)


def run_benchmark(size: Size) -> list[PushResult]:
    raise_fd_limit(max(size.connections) * 2 + 1024)
    logging.basicConfig(level=logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="intrablog-bench-") as folder:
        return asyncio.run(asyncio.wait_for(run(size, Path(folder)), TIMEOUT_S * 4))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="live_push", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--toy", action="store_true", help=f"50 connections, seconds (or {bench.TOY_ENV}=1)")
    args = parser.parse_args(argv)
    toy = bench.toy_requested(args.toy)
    size = TOY if toy else FULL
    results = run_benchmark(size)
    print(report(results, size, toy))
    for result in results:
        bench.record(
            bench.Row(
                benchmark="live_push",
                case=f"push one post to {result.connections} SSE streams",
                unit="ms",
                measured=result.intrablog_s * 1000,
                baseline=result.bare_s * 1000,
                # At toy size the post's fixed costs (request, transaction) dominate: no goal applies there.
                goal="(toy)" if toy else f"<= {GOAL:g}x",
                met=None if toy else result.ratio <= GOAL,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
