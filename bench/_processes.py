"""Servers and the load generator as processes of their own, so that none of them shares a CPU's time with
the process that measures (on two cores: the server on one, the load generator on the other)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
READY_TIMEOUT = 120.0


@dataclass(frozen=True)
class Load:
    """What the load generator measured (``bench._http_load``)."""

    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    statuses: dict[str, int]
    failures: list[str]

    @property
    def all_ok(self) -> bool:
        return not self.failures and set(self.statuses) == {"200"}


async def _answers(port: int, request: bytes) -> bool:
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    try:
        writer.write(request)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        return head.startswith(b"HTTP/1.1 200")
    except (OSError, asyncio.IncompleteReadError, TimeoutError):
        return False
    finally:
        writer.close()


class Served:
    """``python -m MODULE ARGS`` run from the repository (so the worktree's code runs), ready once
    ``probe`` (a raw HTTP request) is answered 200 on ``port``; SIGTERM, then SIGKILL, on leaving."""

    def __init__(self, module: str, arguments: list[str], port: int, probe: bytes, log: Path) -> None:
        self._command = [sys.executable, "-m", module, *arguments]
        self.port = port
        self._probe = probe
        self._log = log
        self._process: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> Served:
        with self._log.open("ab") as log:
            self._process = await asyncio.create_subprocess_exec(
                *self._command, cwd=ROOT, stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log
            )
        deadline = time.monotonic() + READY_TIMEOUT
        while not await _answers(self.port, self._probe):
            if self._process.returncode is not None or time.monotonic() > deadline:
                await self._stop()
                tail = self._log.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{' '.join(self._command[1:3])} did not answer on port {self.port}:\n{tail}")
            await asyncio.sleep(0.05)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._stop()

    async def _stop(self) -> None:
        process = self._process
        if process is None or process.returncode is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 15)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()


def http_get(path: str, headers: dict[str, str] | None = None) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def generate_load(port: int, requests: list[bytes], connections: int, seconds: float, warmup: float) -> Load:
    """Run ``bench._http_load`` against ``port``; it decides nothing but what it measured."""
    job = {
        "port": port,
        "connections": connections,
        "seconds": seconds,
        "warmup": warmup,
        "requests": [request.decode() for request in requests],
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench._http_load",
        cwd=ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(json.dumps(job).encode()), seconds + warmup + 120)
    if process.returncode != 0:
        raise RuntimeError(f"the load generator failed ({process.returncode}): {err.decode(errors='replace')}")
    answer = json.loads(out)
    return Load(
        requests=answer["requests"],
        rps=answer["rps"],
        p50_ms=answer["p50_ms"],
        p99_ms=answer["p99_ms"],
        max_ms=answer["max_ms"],
        statuses=answer["statuses"],
        failures=answer["failures"],
    )


class JsonLinesChild:
    """A helper process that talks JSON, one value a line: commands on its stdin, answers on its stdout.
    Closing its stdin tells it to finish."""

    def __init__(self, module: str, arguments: list[str], *, timeout: float, line_limit: int = 2**16) -> None:
        self._command = [sys.executable, "-m", module, *arguments]
        self._module = module
        self._timeout = timeout
        self._limit = line_limit
        self._process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        """Start it and wait for its first answer, ``"ready"``."""
        self._process = await asyncio.create_subprocess_exec(
            *self._command, cwd=ROOT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=self._limit
        )
        if (answer := await self.receive()) != "ready":
            raise RuntimeError(f"{self._module} answered {answer!r} instead of 'ready'")

    async def send(self, value: object) -> None:
        assert self._process is not None
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps(value).encode() + b"\n")
        await self._process.stdin.drain()

    async def receive(self) -> Any:
        assert self._process is not None
        assert self._process.stdout is not None
        line = await asyncio.wait_for(self._process.stdout.readline(), self._timeout)
        if not line:
            raise RuntimeError(f"the {self._module} process ended early (see its errors above)")
        return json.loads(line)

    async def stop(self) -> None:
        process = self._process
        if process is None or process.returncode is not None:
            return
        assert process.stdin is not None
        process.stdin.close()  # end of input: it finishes and exits
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()
