"""Batches sent and not yet confirmed by the server, and the recording of those it has confirmed.

The worker sends a batch, asks the server to confirm it (an iq ping: ``XmppBridge.request_confirmation``)
and goes on with the next batch at once: the server routes the stream while we read, build and send. A
recorder task waits for the answers in order and marks what they cover SENT, every batch confirmed
meanwhile in one transaction. So neither the round trip nor the database write stops the sending.

What a crash may repeat stays bounded: at most ``limit`` messages (the worker's ``batch_size``) are ever
sent and not yet recorded as SENT, whether still unconfirmed or confirmed and being recorded; the worker
waits for room before sending more. A SIGKILL of intrablog repeats at most those (DESIGN.md, "Delivery
guarantee": at most one batch), and nothing the server has not confirmed is ever marked SENT.

A confirmation that fails (the stream dropped, no answer in time) fails every batch sent after it as well:
they all stay PENDING and go out again, in id order, after the next session starts; a later batch never
reaches anyone before an earlier one that is sent again (per-recipient order holds).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from bridges.xmpp.confirmation import BridgeDisconnected, Confirmation
from bridges.xmpp.outbound_tasks import TaskGroup
from intrablog.services.delivery import DeliveryService

log = logging.getLogger(__name__)


class Unconfirmed(Exception):
    """A confirmation failed: what was in flight stays PENDING, and the worker's pass must end."""


@dataclass(frozen=True)
class Slice:
    sent: list[int]  # delivery ids, as messages on the stream before ``confirmation``'s ping
    settled: list[int]  # settled without a message (post gone, given up): marked SENT with the batch
    held: list[int]  # presence holds them back: marked HELD whether or not the batch is confirmed
    confirmation: Confirmation | None  # None when nothing was sent

    def confirmed(self) -> bool:
        return self.confirmation is None or self.confirmation.answered()


class InFlight:
    def __init__(
        self,
        delivery: DeliveryService,
        writes: asyncio.Lock,
        tasks: TaskGroup,
        limit: int,
        on_confirmed: Callable[[int, int], None],
        on_unconfirmed: Callable[[int, int], None],
    ) -> None:
        self._delivery = delivery
        self._writes = writes  # the worker's one-writer-at-a-time lock (SQLite)
        self._tasks = tasks
        self._limit = limit
        self._on_confirmed = on_confirmed  # (batches, messages)
        self._on_unconfirmed = on_unconfirmed  # (batches, messages)
        self._batches: deque[Slice] = deque()
        self._unrecorded = 0  # messages sent and not yet recorded, including those being recorded now
        self._progress = asyncio.Event()
        self._recorder: asyncio.Task[None] | None = None
        self._lost = False  # a confirmation failed since the last settle()
        self._failure: BaseException | None = None  # recording failed: raised to the worker, which backs off

    @property
    def unrecorded(self) -> int:
        return self._unrecorded

    def add(self, batch: Slice) -> None:
        self._batches.append(batch)
        self._unrecorded += len(batch.sent)
        if self._recorder is None or self._recorder.done():
            self._recorder = self._tasks.start(self._record(), "record")

    async def room(self, count: int) -> None:
        """Until ``count`` more messages may go out (always, once nothing is unrecorded). Raises Unconfirmed
        when a confirmation failed, and what recording raised."""
        while True:
            self._raise_failure()
            if self._lost:
                raise Unconfirmed
            if self._unrecorded == 0 or self._unrecorded + count <= self._limit:
                return
            await self._next_progress()

    async def settle(self) -> bool:
        """Until everything in flight is recorded (or known unconfirmed); False when a confirmation failed
        since the last call. Raises what recording raised."""
        while self._recorder is not None and not self._recorder.done():
            # asyncio.wait: a caller cancelled here (stop's grace period) does not cancel the recorder.
            await asyncio.wait({self._recorder})
        lost, self._lost = self._lost, False
        self._raise_failure()
        return not lost

    def _raise_failure(self) -> None:
        failure, self._failure = self._failure, None
        if failure is not None:
            raise failure

    async def _next_progress(self) -> None:
        self._progress.clear()
        await self._progress.wait()

    async def _record(self) -> None:
        while self._batches:
            head = self._batches[0]
            if head.confirmation is not None:
                try:
                    await head.confirmation.wait()
                except BridgeDisconnected as error:
                    await self._fail_all(str(error))
                    continue
            taken = [self._batches.popleft()]
            while self._batches and self._batches[0].confirmed():
                taken.append(self._batches.popleft())
            sent = [i for batch in taken for i in (*batch.sent, *batch.settled)]
            messages = sum(len(batch.sent) for batch in taken)
            try:
                if await self._mark(sent, [i for batch in taken for i in batch.held]):
                    self._on_confirmed(len(taken), messages)
            finally:
                self._unrecorded -= messages
                self._progress.set()

    async def _fail_all(self, why: str) -> None:
        """Every batch in flight stays PENDING; what needs no confirmation (held, settled) is recorded."""
        failed = list(self._batches)
        self._batches.clear()
        messages = sum(len(batch.sent) for batch in failed)
        self._lost = True
        log.warning("stream dropped before the server confirmed %d messages (%s); they stay pending", messages, why)
        self._on_unconfirmed(sum(1 for batch in failed if batch.sent), messages)
        try:
            await self._mark([i for b in failed for i in b.settled], [i for b in failed for i in b.held])
        finally:
            self._unrecorded -= messages
            self._progress.set()

    async def _mark(self, sent: list[int], held: list[int]) -> bool:
        if not sent and not held:
            return True
        try:
            async with self._writes:
                await self._delivery.mark(sent=sent, held=held)
            return True
        except Exception as error:
            # Left PENDING, they go out again (a repeat, within the bound): the worker backs off first.
            log.exception("could not record %d deliveries as sent and %d as held", len(sent), len(held))
            self._failure = error
            self._lost = True
            return False
