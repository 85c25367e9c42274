"""The push benchmark's baseline: the least an aiohttp SSE broadcast can do.

Each ``GET /sse`` holds its response open; ``POST /broadcast`` writes one frame of the requested size
to every held response in a loop. Nothing else: no sign-in, no storage, no matching, no rendering.
"""

from __future__ import annotations

import asyncio
import time
from types import TracebackType

from aiohttp import ClientSession, web

from bench._loopback import serve_on_loopback
from bench._sse_clients import marker

_SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-store"}


def frame(round_number: int, size: int) -> bytes:
    head = b'id: %d\nevent: post\ndata: {"html":"' % round_number
    tail = marker(round_number) + b'"}\n\n'
    return head + b"x" * max(size - len(head) - len(tail), 0) + tail


class BareBroadcast:
    def __init__(self) -> None:
        self._responses: set[web.StreamResponse] = set()
        self._closing: asyncio.Event = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.loop_seconds = 0.0

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        closing = self._closing
        response = web.StreamResponse(headers=_SSE_HEADERS)
        response.force_close()
        self._responses.add(response)
        try:
            await response.prepare(request)
            await response.write(b": ok\n\n")
            await closing.wait()
        finally:
            self._responses.discard(response)
        return response

    async def _broadcast(self, request: web.Request) -> web.Response:
        data = frame(int(request.query["round"]), int(request.query["size"]))
        started = time.perf_counter()
        for response in list(self._responses):
            await response.write(data)
        self.loop_seconds = time.perf_counter() - started
        return web.Response(text="sent")

    async def __aenter__(self) -> BareBroadcast:
        app = web.Application()
        app.router.add_get("/sse", self._stream)
        app.router.add_post("/broadcast", self._broadcast)
        self._runner, self.port = await serve_on_loopback(app)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close_streams()
        if self._runner is not None:
            await self._runner.cleanup()

    async def broadcast(self, http: ClientSession, round_number: int, size: int) -> None:
        url = f"http://127.0.0.1:{self.port}/broadcast"
        async with http.post(url, params={"round": str(round_number), "size": str(size)}) as response:
            response.raise_for_status()

    def last_loop_seconds(self) -> float:
        return self.loop_seconds

    def stream_count(self) -> int:
        return len(self._responses)

    def close_streams(self) -> None:
        self._closing.set()
        self._closing = asyncio.Event()
