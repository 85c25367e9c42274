"""The outbound delivery worker: drains the outbox to IM in batches the XMPP server confirms.

A component connection (XEP-0114) acknowledges nothing per message, so a batch counts as sent only once
the server has answered the iq ping sent after it (the stream is ordered: everything before the ping has
been routed). Until then its deliveries stay PENDING and are sent again, with the same origin-ids, after
a reconnect or a restart: a graceful restart of either side repeats nothing, a SIGKILL of intrablog at
most the one unconfirmed batch (DESIGN.md, "Delivery guarantee"). The next batch is read from the
database while the server confirms the current one, but never sent before that confirmation.

Order: deliveries are expanded in outbox order and sent in id order, one batch after the other, so each
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
from bridges.xmpp.outbound_messages import OutgoingMessage, render
from bridges.xmpp.outbound_returns import Returns
from bridges.xmpp.outbound_tasks import TaskGroup
from intrablog.domain.events import AckReminderDue, DirectMessageSent, PostCreated
from intrablog.domain.im import Decision, Delivery, decide
from intrablog.observability import request_id
from intrablog.services.facade import Services

log = logging.getLogger(__name__)

# Outbox rows (posts, direct messages) expanded per call; each may become thousands of deliveries. Small,
# so that an expansion fits in the time the server takes to confirm a batch (the two overlap).
EXPAND_LIMIT = 20
# A delivery whose message cannot be built or sent this many times is given up, so that one bad row
# cannot stall everyone behind it.
MAX_ATTEMPTS = 3
# How long stop() lets the batch in hand finish (sent and confirmed) before cancelling it.
STOP_GRACE_SECONDS = 5.0
# A reminder round writes its deliveries directly (no outbox row): its event wakes the worker as well.
_WAKING_EVENTS = (PostCreated, DirectMessageSent, AckReminderDue)


class EventSubscription(Protocol):
    async def get(self) -> object | None: ...

    def close(self) -> None: ...


class EventSource(Protocol):
    """The event bus (``InMemoryEventBus`` in one process), for wakeups only: the outbox is the truth."""

    def subscribe(self) -> EventSubscription: ...


class _StreamLost(Exception):
    """The stream dropped before the batch was confirmed: it stays PENDING until the next session."""


@dataclass
class OutboundStats:
    """Counters for the log, the tests and the benchmark."""

    batches: int = 0
    sent: int = 0
    held: int = 0
    unconfirmed_batches: int = 0  # sent, then the stream dropped before the server confirmed them
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
        self._batch_size = batch_size
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
        self._more_outbox = True  # the last expansion was full: more outbox rows wait
        self.returns = Returns(bridge, services, self._tasks, self._writes, self.wake, resend_grace_seconds)
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
        """Let the batch in hand finish (bounded), then cancel the rest. Nothing is lost either way: a batch
        cut short stays PENDING and goes out, with the same origin-ids, after the next start."""
        if not self._running:
            return
        self._running = False
        self.returns.running = False
        self.wake()
        if self._drain_task is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(self._drain_task), STOP_GRACE_SECONDS)
        await self.returns.settle(STOP_GRACE_SECONDS)
        await self._tasks.cancel_all()

    @property
    def running(self) -> bool:
        return self._running

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
        """Expand the outbox and send confirmed batches until nothing is PENDING or the stream drops."""
        self._more_outbox = True
        upcoming: list[Delivery] | None = None  # the next batch, read while the server confirmed the last
        while self._running and self._bridge.connected:
            await self.returns.flush()
            if self._woken() and upcoming is not None and len(upcoming) < self._batch_size:
                upcoming = None  # read before something new was published or requeued: read again
            if upcoming is None:
                await self._expand()
                batch = await self._pending(self._batch_size)
            else:
                batch = upcoming
            if not batch:
                if self._more_outbox:
                    upcoming = None
                    continue
                return
            try:
                upcoming = await self._deliver(batch)
            except _StreamLost:
                return

    def _woken(self) -> bool:
        """Whether a post, message or requeue came since we last looked (then the outbox needs expanding)."""
        if not self._wakeup.is_set():
            return False
        self._wakeup.clear()
        self._more_outbox = True
        return True

    async def _expand(self) -> int:
        if not self._more_outbox:
            return 0
        async with self._writes:
            expanded = await self._delivery.expand_outbox(limit=EXPAND_LIMIT)
        self._more_outbox = expanded >= EXPAND_LIMIT
        return expanded

    async def _pending(self, limit: int, after: int = 0) -> list[Delivery]:
        async with self._writes:  # pending() marks undeliverable rows DROPPED on the way
            return await self._delivery.pending(limit, after)

    async def _deliver(self, batch: list[Delivery]) -> list[Delivery] | None:
        """Send one batch and have the server confirm it; returns the next batch when it could be read
        meanwhile. Raises _StreamLost when the stream dropped before the confirmation."""
        held: list[int] = []
        done: list[int] = []  # settled without a message (post gone, given up): marked with the batch
        outgoing: list[tuple[Delivery, OutgoingMessage]] = []
        for delivery in batch:
            if decide(self._bridge.presence.get(delivery.recipient_jid), delivery.reason) is Decision.HOLD:
                held.append(delivery.id)
                continue
            message = self._render(delivery)
            if message is None:
                done.append(delivery.id)
            else:
                outgoing.append((delivery, message))
        if held:
            async with self._writes:
                await self._delivery.mark_held(held)
            self.stats.held += len(held)
        sent = await self._send_all(outgoing, done)
        upcoming = None
        if sent:
            confirmation = asyncio.ensure_future(self._confirm())
            upcoming = await self._meanwhile(batch)
            try:
                await confirmation
            except BridgeDisconnected:
                self.stats.unconfirmed_batches += 1
                log.warning("stream dropped before the server confirmed %d messages; they stay pending", len(sent))
                raise _StreamLost from None
        if sent or done:
            async with self._writes:
                await self._delivery.mark_sent(sent + done)
        for delivery_id in sent + done:
            self._attempts.pop(delivery_id, None)
        self.stats.batches += 1
        self.stats.sent += len(sent)
        return upcoming

    async def _meanwhile(self, in_hand: list[Delivery]) -> list[Delivery] | None:
        """While the server routes a batch, the database work for the next one: expand what waits in the
        outbox and read the next batch (after the ids in hand, still PENDING). None: read it afresh later."""
        try:
            woken = self._woken()
            expanded = await self._expand()
            if len(in_hand) < self._batch_size and not woken and not expanded:
                return []  # this batch emptied the queue, and nothing came since
            return await self._pending(self._batch_size, after=max(delivery.id for delivery in in_hand))
        except Exception:
            log.warning("could not prepare the next batch ahead; preparing it after the confirmation", exc_info=True)
            return None

    async def _confirm(self) -> None:
        await self._bridge.confirm(self._confirm_timeout)

    async def _send_all(self, outgoing: list[tuple[Delivery, OutgoingMessage]], done: list[int]) -> list[int]:
        # Checked after mark_held yielded to the loop: slixmpp would queue what we send on a dropped stream
        # and replay it after the reconnect, beside our own resend.
        if outgoing and not self._bridge.connected:
            raise _StreamLost
        sent: list[int] = []
        for delivery, message in outgoing:
            try:
                self._send(message)
            except BridgeDisconnected:
                raise _StreamLost from None
            except Exception:
                if self._give_up_after_failure(delivery, "could not be sent"):
                    done.append(delivery.id)
                continue
            sent.append(delivery.id)
        return sent

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
