"""SSE clients for the push benchmark, run in processes of their own (standard library only, so they start fast).

A worker opens its share of the connections, says it is ready, then for each round notes when every one of
its connections has received that round's marker (``bench-mark-<round>.``) and reports the latest moment.
``time.monotonic()`` is the system-wide monotonic clock on Linux, so moments compare across processes.
"""

from __future__ import annotations

import asyncio
import time
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event as ProcessEvent
from typing import Any

_OPEN_AT_ONCE = 100
_TAIL = 64


def marker(round_number: int) -> bytes:
    return b"bench-mark-%d." % round_number


class _Rounds:
    def __init__(self, connections: int, rounds: int) -> None:
        self.connections = connections
        self.latest = [0.0] * rounds
        self.count = [0] * rounds
        self.complete = [asyncio.Event() for _ in range(rounds)]

    def arrived(self, round_number: int, moment: float) -> None:
        self.latest[round_number] = max(self.latest[round_number], moment)
        self.count[round_number] += 1
        if self.count[round_number] == self.connections:
            self.complete[round_number].set()


async def _open(
    port: int, request: bytes, gate: asyncio.Semaphore
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    async with gate:
        for attempt in range(20):
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                break
            except OSError:  # a full listen backlog: try again shortly
                await asyncio.sleep(0.05 * (attempt + 1))
        else:
            raise ConnectionError("could not connect")
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise ConnectionError(head.split(b"\r\n", 1)[0].decode())
        return reader, writer


async def _watch(reader: asyncio.StreamReader, rounds: _Rounds) -> None:
    tail = b""
    for round_number in range(len(rounds.latest)):
        wanted = marker(round_number)
        while wanted not in tail:
            chunk = await reader.read(65536)
            if not chunk:
                return
            tail = tail[-_TAIL:] + chunk
        rounds.arrived(round_number, time.monotonic())
        # Keep what follows this round's marker: the next round's may be in the same read.
        tail = tail[tail.index(wanted) + len(wanted) :]


async def _run(
    port: int, requests: list[bytes], rounds: int, ready: Queue[Any], results: Queue[Any], done: ProcessEvent
) -> None:
    gate = asyncio.Semaphore(_OPEN_AT_ONCE)
    streams = await asyncio.gather(*(_open(port, request, gate) for request in requests))
    tracker = _Rounds(len(streams), rounds)
    watchers = [asyncio.create_task(_watch(reader, tracker)) for reader, _ in streams]
    ready.put(len(streams))
    for round_number in range(rounds):
        await tracker.complete[round_number].wait()
        results.put((round_number, tracker.latest[round_number]))
    # A process-shared event cannot be awaited: a thread waits for it.
    await asyncio.get_running_loop().run_in_executor(None, done.wait)
    for task in watchers:
        task.cancel()
    for _, writer in streams:
        writer.close()


def client_worker(
    port: int, requests: list[bytes], rounds: int, ready: Queue[Any], results: Queue[Any], done: ProcessEvent
) -> None:
    """Process entry point: hold one connection per request (raw HTTP/1.1) until ``done`` is set."""
    try:
        asyncio.run(_run(port, requests, rounds, ready, results, done))
    except Exception as error:  # the parent is waiting on the queue: tell it rather than leave it hanging
        ready.put(f"client worker failed: {error!r}")
