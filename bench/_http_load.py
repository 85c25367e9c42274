"""The HTTP load generator: a process of its own, standard library only, keep-alive HTTP/1.1 connections.

    python -m bench._http_load < JOB.json      # prints one JSON document: counts, requests/s, percentiles

The job: ``{"port": P, "connections": 50, "seconds": 10, "warmup": 2, "requests": ["GET / HTTP/1.1..."]}``.
Each connection sends one request, reads the whole response (``Content-Length``), then sends the next, so
at most ``connections`` requests are in flight, like ``wrk -c``. Connection ``i`` walks the request list
from position ``i`` (with many bearer tokens, many different readers). Responses that end in the warm-up
and after the end are not counted; latency is measured from the request's write to its response's last byte.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import dataclass, field

_HEAD_END = b"\r\n\r\n"


@dataclass
class _Tally:
    counting_from: float
    until: float
    latencies: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


async def _connection(port: int, requests: list[bytes], first: int, tally: _Tally) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    position = first
    try:
        while (started := time.monotonic()) < tally.until:
            writer.write(requests[position % len(requests)])
            position += 1
            head = await reader.readuntil(_HEAD_END)
            status = head[9:12].decode()
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if length:
                await reader.readexactly(length)
            finished = time.monotonic()
            if tally.counting_from <= finished <= tally.until:
                tally.latencies.append(finished - started)
                tally.statuses[status] = tally.statuses.get(status, 0) + 1
    except (OSError, asyncio.IncompleteReadError, ValueError) as error:
        tally.failures.append(repr(error))
    finally:
        writer.close()


def percentile(ordered: list[float], share: float) -> float:
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))] if ordered else 0.0


async def run(job: dict[str, object]) -> dict[str, object]:
    port = int(str(job["port"]))
    connections = int(str(job["connections"]))
    seconds, warmup = float(str(job["seconds"])), float(str(job["warmup"]))
    raw = job["requests"]
    assert isinstance(raw, list)
    requests = [str(request).encode() for request in raw]
    now = time.monotonic()
    tally = _Tally(counting_from=now + warmup, until=now + warmup + seconds)
    await asyncio.gather(*(_connection(port, requests, index, tally) for index in range(connections)))
    ordered = sorted(tally.latencies)
    return {
        "requests": len(ordered),
        "seconds": seconds,
        "rps": len(ordered) / seconds,
        "p50_ms": percentile(ordered, 0.5) * 1000,
        "p99_ms": percentile(ordered, 0.99) * 1000,
        "max_ms": (ordered[-1] if ordered else 0.0) * 1000,
        "statuses": tally.statuses,
        "failures": tally.failures[:5],
    }


def main() -> int:
    print(json.dumps(asyncio.run(run(json.loads(sys.stdin.read())))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
