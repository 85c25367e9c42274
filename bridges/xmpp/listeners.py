"""Callbacks other parts of intrablog register on the bridge (session start, receipts, presence changes).

A callback may be a plain function or a coroutine function. Coroutines run as tasks the bridge keeps a
reference to (an unreferenced task can be garbage-collected mid-flight) and whose failure is logged; a
failing callback never stops the others, nor the stanza handling that triggered it.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from typing import Any, Generic, ParamSpec

from bridges.xmpp.outbound_tasks import cancel_and_wait

log = logging.getLogger(__name__)

P = ParamSpec("P")


class Listeners(Generic[P]):
    def __init__(self, name: str) -> None:
        self._name = name
        self._callbacks: list[Callable[P, object]] = []
        self._tasks: set[asyncio.Future[Any]] = set()

    def add(self, callback: Callable[P, object]) -> None:
        self._callbacks.append(callback)

    def notify(self, *args: P.args, **kwargs: P.kwargs) -> None:
        for callback in list(self._callbacks):
            try:
                result = callback(*args, **kwargs)
            except Exception:
                log.exception("%s listener %r failed", self._name, callback)
                continue
            if inspect.isawaitable(result):
                task = asyncio.ensure_future(result)
                self._tasks.add(task)
                task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Future[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s listener failed", self._name, exc_info=task.exception())

    async def close(self) -> None:
        """Cancel the callbacks still running (at the bridge's stop) and wait for them to end."""
        await cancel_and_wait(self._tasks)
