"""The real application on a real TCP port, served from an event loop in a thread of its own.

Synchronous HTTP clients (``requests``, and so schemathesis' ``case.call``) block the thread they run in;
serving the app from the test's own loop would deadlock, so the server gets a loop and thread to itself.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from aiohttp import web

T = TypeVar("T")

_TIMEOUT_S = 60.0


class LiveServer:
    """``build()`` is called on the server's loop, so everything the app binds to a loop binds to that one."""

    def __init__(self, build: Callable[[], web.Application], host: str = "127.0.0.1") -> None:
        self._build = build
        self._host = host
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="live-server", daemon=True)
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(_TIMEOUT_S)

    async def _start(self) -> str:
        runner = web.AppRunner(self._build(), access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        self._runner = runner
        # Port 0: the kernel picks a free port, and nothing can take it between choosing and binding.
        site = web.TCPSite(runner, self._host, 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        return f"http://{host}:{port}"

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self._loop.shutdown_asyncgens()

    def start(self) -> None:
        self._thread.start()
        try:
            self.base_url = self._run(self._start())
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        try:
            if self._thread.is_alive():
                self._run(self._stop())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(_TIMEOUT_S)
            if not self._thread.is_alive():
                self._loop.close()


@contextmanager
def live_server(build: Callable[[], web.Application]) -> Iterator[LiveServer]:
    server = LiveServer(build)
    server.start()
    try:
        yield server
    finally:
        server.stop()
