"""The outbound worker's background tasks: kept referenced, named, failures logged, cancelled together.

The same discipline as ``intrablog.runtime.start_background`` (which a bridge may not import): an
unreferenced task can be garbage-collected mid-flight, and an exception nobody retrieves is lost.
:func:`cancel_and_wait` also ends the tasks of the bridge's listeners.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine, Iterable
from typing import Any

log = logging.getLogger(__name__)


class TaskGroup:
    """Tasks owned by one component; :meth:`cancel_all` ends them on stop."""

    def __init__(self, owner: str) -> None:
        self._owner = owner
        self._tasks: set[asyncio.Task[Any]] = set()

    def start(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=f"{self._owner}:{name}")
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task %s failed", task.get_name(), exc_info=task.exception())

    async def cancel_all(self) -> None:
        await cancel_and_wait(self._tasks)


async def cancel_and_wait(tasks: Iterable[asyncio.Future[Any]]) -> None:
    """Cancel ``tasks`` and wait for each to end, whatever it ends with."""
    pending = list(tasks)
    for task in pending:
        task.cancel()
    for task in pending:
        # Each task is awaited so it has finished (and released what it held) before stop() returns.
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
