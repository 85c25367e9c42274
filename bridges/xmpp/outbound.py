"""The outbound delivery worker: drains the outbox to IM, in slices the XMPP server confirms.

A component connection (XEP-0114) acknowledges nothing per message, so a delivery counts as sent only once
the server has answered an iq ping sent after it (the stream is ordered: everything before the ping has
been routed). Until then it stays PENDING and goes out again, with the same origin-id, after a reconnect
or a restart: a graceful restart of either side repeats nothing, a SIGKILL of intrablog at most one batch
(DESIGN.md, "Delivery guarantee").

Throughput comes from never waiting for the server or the database while there is room: the worker sends
a slice (a quarter of ``batch_size``), sends the ping for it and goes on with the next slice; a recorder
marks confirmed slices SENT in the background, several per transaction (``outbound_flight.py``), and the
next deliveries are read ahead, many slices per query (``outbound_reader.py``). The room is the bound
above: at most ``batch_size`` messages are ever sent and not yet recorded as SENT.

Order: deliveries are expanded in outbox order and sent in id order on one ordered stream; when a
confirmation fails, every slice after it stays PENDING too and all go out again in id order. So each
recipient gets a channel's posts in the order they were written, online or from offline storage.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from dataclasses import dataclass
from typing import Protocol

from bridges.xmpp.bridge import BridgeDisconnected, XmppBridge
from bridges.xmpp.outbound_flight import InFlight, Slice, Unconfirmed
from bridges.xmpp.outbound_messages import OutgoingMessage, render
from bridges.xmpp.outbound_reader import ReadAhead
from bridges.xmpp.outbound_returns import Returns
from bridges.xmpp.outbound_tasks import TaskGroup
from intrablog.domain.event_ports import EventSubscription
from intrablog.domain.events import AckReminderDue, DirectMessageSent, PostCreated
from intrablog.domain.im import Decision, Delivery, decide
from intrablog.observability import request_id
from intrablog.services.facade import Services

log = logging.getLogger(__name__)

# Outbox rows (posts, direct messages) expanded per call; each may become thousands of deliveries. Small,
# so that an expansion fits in the time the messages read before it take to go out (the two overlap).
EXPAND_LIMIT = 20
# Deliveries read per query: their posts are loaded once for them all (a 10,000-person announcement is
# 20 queries, not 200).
READ_SIZE = 500
# Slices per batch: a ping after each, so that the server confirms, and the recorder records, the first
# slices while the last ones go out, and the room a batch gives is never all spent waiting.
SLICES_PER_BATCH = 4
# A delivery whose message cannot be built or sent this many times is given up, so that one bad row
# cannot stall everyone behind it.
MAX_ATTEMPTS = 3
# How long stop() lets the batch in hand finish (sent and confirmed) before cancelling it.
STOP_GRACE_SECONDS = 5.0
# A reminder round writes its deliveries directly (no outbox row): its event wakes the worker as well.
_WAKING_EVENTS = (PostCreated, DirectMessageSent, AckReminderDue)


class EventSource(Protocol):
    """The event bus (``InMemoryEventBus`` in one process), for wakeups only: the outbox is the truth."""

    def subscribe(self) -> EventSubscription: ...


@dataclass
class OutboundStats:
    """Counters for the log, the tests and the benchmark."""

    batches: int = 0  # slices confirmed by the server
    sent: int = 0
    held: int = 0
    unconfirmed_batches: int = 0  # slices sent, then the stream dropped before the server confirmed them
    given_up: int = 0
    skipped: int = 0  # the post was gone by the time it went out
    failures: int = 0  # passes that raised and were retried after a back-off


class OutboundWorker:
    """One task drains the outbox whenever a post or direct message is published, and every
    ``idle_seconds`` regardless (the outbox is the truth; events are only wakeups)."""

    def __init__(
        self,
        bridge: XmppBridge,
        services: Services,
        events: EventSource,
        batch_size: int,
        public_url: str,
        *,
        idle_seconds: float = 1.0,
        confirm_timeout: float = 10.0,
        resend_grace_seconds: float = 3.0,
        initial_backoff: float = 0.5,
        max_backoff: float = 10.0,
    ) -> None:
        self._bridge = bridge
        self._delivery = services.delivery
        self._events = events
        self._slice = max(1, -(-batch_size // SLICES_PER_BATCH))
        self._public_url = public_url
        self._idle_seconds = idle_seconds
        self._confirm_timeout = confirm_timeout
        self._initial_backoff = initial_backoff
        self._max_backoff = max_backoff
        self._wakeup = asyncio.Event()
        # SQLite has one writer, and a second one waits in its busy handler (sleeps of up to 100 ms): the
        # worker's own writers (the drain loop, receipts, resends) take turns here instead.
        self._writes = asyncio.Lock()
        self._tasks = TaskGroup("xmpp-outbound")
        self._drain_task: asyncio.Task[None] | None = None
        self._attempts: Counter[int] = Counter()
        self._running = False
        self._listening = False
        self.returns = Returns(bridge, services, self._tasks, self._writes, self.wake, resend_grace_seconds)
        self._flight = InFlight(
            services.delivery, self._writes, self._tasks, batch_size, self._confirmed, self._unconfirmed
        )
        self.stats = OutboundStats()

    # -- lifecycle ------------------------------------------------------------------------------------------
    async def start(self) -> None:
        if self._running:
            return
        self._running = True
        if not self._listening:  # the bridge cannot remove listeners: register them once
            self._listening = True
            self._bridge.add_session_listener(self._on_session)
            self._bridge.add_receipt_listener(self.returns.on_receipt)
            self._bridge.add_presence_listener(self.returns.on_presence)
        self.returns.start(already_connected=self._bridge.connected)
        self._tasks.start(self._listen(), "events")
        self._drain_task = self._tasks.start(self._run(), "drain")
        self.wake()  # whatever a previous run left PENDING goes out as soon as the bridge is connected

    async def stop(self) -> None:
        """Let the slices in flight be confirmed and recorded (bounded), then cancel the rest. Nothing is
        lost either way: what is cut short stays PENDING and goes out, with the same origin-ids, after the
        next start."""
        if not self._running:
            return
        self._running = False
        self.returns.running = False
        self.wake()
        if self._drain_task is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(self._drain_task), STOP_GRACE_SECONDS)
        with contextlib.suppress(Exception):  # a failure to record was logged; those stay PENDING
            await asyncio.wait_for(self._flight.settle(), STOP_GRACE_SECONDS)
        await self.returns.settle(STOP_GRACE_SECONDS)
        await self._tasks.cancel_all()

    @property
    def running(self) -> bool:
        return self._running

    @property
    def in_flight(self) -> int:
        """Messages sent and not yet recorded as SENT: never more than ``batch_size`` (what a crash repeats)."""
        return self._flight.unrecorded

    def wake(self) -> None:
        self._wakeup.set()

    def _on_session(self) -> None:
        # A new session (first connect or reconnect): resume at once rather than at the next idle tick.
        if self._running:
            self.returns.on_session_start()
            self.wake()

    async def _listen(self) -> None:
        while True:
            subscription = self._events.subscribe()
            try:
                while (event := await subscription.get()) is not None:
                    if isinstance(event, _WAKING_EVENTS):
                        self.wake()
            finally:
                subscription.close()
            # The bus dropped us for falling behind: subscribe again and catch up from the outbox.
            self.wake()

    # -- the drain loop ---------------------------------------------------------------------------------------
    async def _run(self) -> None:
        backoff = self._initial_backoff
        while self._running:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self._idle_seconds)
            if not self._bridge.connected:
                self._wakeup.clear()  # the next session start wakes us; until then nothing may be sent
                continue
            try:
                await self._drain()
            except asyncio.CancelledError:
                raise
            except Exception:
                self.stats.failures += 1
                log.exception("outbound delivery failed; retrying in %.1f s", backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)
                self.wake()
            else:
                backoff = self._initial_backoff

    async def _drain(self) -> None:
        """One pass from the oldest PENDING delivery on: slice after slice, each confirmed by the server in
        the background, until nothing is PENDING (what is in flight then is recorded meanwhile) or the
        stream drops."""
        # What the last pass left in flight is recorded first: a read from the start would find it PENDING.
        await self._flight.settle()
        self._wakeup.clear()  # whatever was published before now, this pass finds
        session = self._bridge.session
        reader = ReadAhead(self._delivery, self._writes, READ_SIZE, EXPAND_LIMIT)
        rescan = False
        try:
            while self._running and self._bridge.connected and self._bridge.session == session:
                if self.returns.releasing and not await self._flight.settle():
                    return  # the hold decisions in flight are recorded before a release summarises them
                await self.returns.flush()
                if self._wakeup.is_set():
                    self._wakeup.clear()
                    reader.poke()  # expand what was published; a requeue (lower ids) needs another pass
                    rescan = True
                batch = await reader.take(self._slice)
                if not batch:
                    if rescan:
                        self.wake()
                    return
                await self._flight.room(len(batch))
                # A slice never spans two sessions: what the old one carried is confirmed by no later ping.
                if not self._bridge.connected or self._bridge.session != session:
                    return
                self._send_slice(batch)
                # Let the stream write the slice, and the database answers in, before building the next:
                # without a turn of the loop here a whole batch would go by in one step, and the recorder's
                # round trips would wait behind it.
                await asyncio.sleep(0)
        except Unconfirmed:
            return
        finally:
            await reader.close()

    def _send_slice(self, batch: list[Delivery]) -> None:
        """Send a slice and ask the server to confirm it; the recorder marks it SENT once it has."""
        held: list[int] = []
        settled: list[int] = []  # settled without a message (post gone, given up): marked with the slice
        sent: list[int] = []
        lost = False
        for delivery in batch:
            if decide(self._bridge.presence.get(delivery.recipient_jid), delivery.reason) is Decision.HOLD:
                held.append(delivery.id)
                continue
            message = self._render(delivery)
            if message is None:
                settled.append(delivery.id)
                continue
            try:
                self._send(message)
            except BridgeDisconnected:
                lost = True  # the confirmation below is refused: the whole slice stays PENDING
                break
            except Exception:
                if self._give_up_after_failure(delivery, "could not be sent"):
                    settled.append(delivery.id)
                continue
            sent.append(delivery.id)
            self._attempts.pop(delivery.id, None)
        confirmation = self._bridge.request_confirmation(self._confirm_timeout) if sent or lost else None
        self._flight.add(Slice(sent, settled, held, confirmation))
        self.stats.held += len(held)
        if lost:
            raise Unconfirmed

    def _confirmed(self, slices: int, messages: int) -> None:
        self.stats.batches += slices
        self.stats.sent += messages

    def _unconfirmed(self, slices: int, _messages: int) -> None:
        self.stats.unconfirmed_batches += slices

    def _render(self, delivery: Delivery) -> OutgoingMessage | None:
        """The message, or None when the delivery is settled without one."""
        try:
            message = render(delivery, self._bridge.addresses, self._public_url)
        except Exception:
            # A bad row (say, a name the addresses refuse) must not stall the queue behind it forever.
            if self._give_up_after_failure(delivery, "could not be rendered"):
                return None
            raise
        if message is None:
            self.stats.skipped += 1
            log.info("post deleted before delivery; not sent", extra={"delivery_id": delivery.id})
        return message

    def _give_up_after_failure(self, delivery: Delivery, what: str) -> bool:
        self._attempts[delivery.id] += 1
        token = request_id.set(delivery.origin_id)
        try:
            if self._attempts[delivery.id] < MAX_ATTEMPTS:
                log.exception("delivery %d to %s %s; will retry", delivery.id, delivery.recipient_jid, what)
                return False
            log.exception(
                "delivery %d to %s %s %d times; giving up", delivery.id, delivery.recipient_jid, what, MAX_ATTEMPTS
            )
        finally:
            request_id.reset(token)
        self._attempts.pop(delivery.id, None)
        self.stats.given_up += 1
        return True

    def _send(self, message: OutgoingMessage) -> None:
        self._bridge.send_message(
            message.to,
            message.sender,
            message.body,
            message.origin_id,
            reply_to_origin=message.reply_to_origin,
            reply_to_jid=message.reply_to_jid,
            request_receipt=True,
        )
