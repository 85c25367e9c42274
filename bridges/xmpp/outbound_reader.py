"""PENDING deliveries read ahead of the sending, oldest first, the outbox expanded on the way.

The worker takes one slice at a time; the reader reads ``read_size`` deliveries per query (their posts are
loaded once for all of them), and starts the next read in the background when what it holds runs low, so
the database works while the messages before go out.

A reader serves one pass of the worker and reads past the highest id it has read: deliveries expanded
meanwhile have higher ids. What is requeued meanwhile (lower ids) waits for the next pass, which starts
from the beginning.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque

from intrablog.domain.im import Delivery
from intrablog.services.delivery import DeliveryService

log = logging.getLogger(__name__)


class ReadAhead:
    def __init__(self, delivery: DeliveryService, writes: asyncio.Lock, read_size: int, expand_limit: int) -> None:
        self._delivery = delivery
        self._writes = writes  # the worker's one-writer-at-a-time lock: expansion and pending() both write
        self._read_size = read_size
        self._expand_limit = expand_limit
        self._buffer: deque[Delivery] = deque()
        self._after = 0  # the highest id read
        self._more_outbox = True  # outbox rows may wait to be expanded
        self._caught_up = False  # the last read found nothing more, and nothing waited in the outbox
        self._pokes = 0
        # Owned here, always awaited (by take or close): its error reaches the worker, whose loop backs off.
        self._reading: asyncio.Task[None] | None = None

    def poke(self) -> None:
        """Something was published or requeued: expand the outbox and read on, even after catching up."""
        self._pokes += 1
        self._more_outbox = True
        self._caught_up = False

    async def take(self, count: int) -> list[Delivery]:
        """Up to ``count`` deliveries in id order; empty once nothing more is PENDING past those taken."""
        while True:
            if self._reading is not None and self._reading.done():
                reading, self._reading = self._reading, None
                reading.result()  # raises what the read raised
            if len(self._buffer) >= count or (self._caught_up and self._reading is None):
                break
            if self._reading is None:
                self._reading = asyncio.ensure_future(self._read())
            await asyncio.wait({self._reading})
        batch = [self._buffer.popleft() for _ in range(min(count, len(self._buffer)))]
        if self._reading is None and not self._caught_up and len(self._buffer) < self._read_size // 2:
            self._reading = asyncio.ensure_future(self._read())
        return batch

    async def close(self) -> None:
        """Let a read in progress end (cancelling it mid-transaction would waste a connection); its rows
        are not needed any more."""
        if self._reading is not None:
            with contextlib.suppress(Exception):
                await self._reading
            self._reading = None

    async def _read(self) -> None:
        pokes = self._pokes
        more = False
        if self._more_outbox:
            async with self._writes:
                expanded = await self._delivery.expand_outbox(limit=self._expand_limit)
            more = expanded >= self._expand_limit
        async with self._writes:  # pending() marks undeliverable rows DROPPED on the way
            rows = await self._delivery.pending(self._read_size, after=self._after)
        if rows:
            self._after = rows[-1].id
            self._buffer.extend(rows)
        if self._pokes == pokes:  # a poke during the read is not forgotten
            self._more_outbox = more
            self._caught_up = len(rows) < self._read_size and not more
