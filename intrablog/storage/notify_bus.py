"""The event bus across the nodes of one PostgreSQL database: LISTEN/NOTIFY, no other broker.

``publish`` delivers to this node's subscribers at once (the in-memory bus it wraps) and queues a
``NOTIFY intrablog_events`` for the others; a sender task sends what has queued up on a connection of its
own, several events in one round trip, in order. Each node LISTENs on another dedicated connection and
re-publishes what the others sent to its own subscribers, skipping its own events (the payload names the
sending node). Payloads are compact JSON (``event_codec``); one too large for NOTIFY travels as a reference
that the receiver re-reads from storage.

Nothing here is durable, and nothing needs to be: the outbox and the posts are the truth, events only say
"look now". Whenever events may have been missed — the LISTEN connection was lost (a PostgreSQL restart,
a network cut) and is back, a NOTIFY could not be sent, a queue overflowed — every subscriber of the
affected node(s) is dropped, exactly as when one falls behind, and catches up from storage: the live hub
closes its streams (pages resume from ``Last-Event-ID``), the bridge's worker drains the outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from intrablog.domain.event_ports import EventSubscription
from intrablog.domain.events import DomainEvent
from intrablog.domain.ports import Database
from intrablog.storage.event_codec import LOADERS, decode_event, dumps, fits, reference_of, to_json
from intrablog.storage.pg_connections import PG_ERRORS, PgConnection, close_quietly, connect, keepalive_settings

log = logging.getLogger(__name__)

CHANNEL = "intrablog_events"
_RESYNC = "resync"  # the event type of "catch up from storage": sent when events could not be
_RELISTENED = ""  # in the incoming queue (never a JSON payload): LISTEN is back after a loss
_SEND_BATCH = 200
_NOTIFY = "SELECT pg_notify($1, payload) FROM unnest($2::text[]) AS payload"
# PostgreSQL ends a LISTEN session of a vanished machine after about this long (see keepalive_settings).
_KEEPALIVE_TIMEOUT_S = 10.0


class LocalBus(Protocol):
    """The in-process bus this one wraps (``intrablog.services.events.InMemoryEventBus``)."""

    async def publish(self, event: DomainEvent) -> None: ...

    def subscribe(self) -> EventSubscription: ...

    def drop_all(self) -> None: ...


@dataclass
class NotifyStats:
    """Counters for the log and the tests."""

    sent: int = 0  # notifications sent
    received: int = 0  # events of other nodes delivered to this node's subscribers
    references: int = 0  # of those, read back from storage (too large to travel)
    resyncs: int = 0  # times this node's subscribers were told to catch up from storage
    listens: int = 0  # LISTEN connections made (the first, then one per reconnect)
    send_failures: int = 0
    resyncs_sent: int = 0  # "catch up" sent to the other nodes after events could not be sent


class PostgresEventBus:
    """Implements the EventBus port across nodes; ``start()`` before serving, ``stop()`` after."""

    def __init__(
        self,
        url: str,
        local: LocalBus,
        database: Database,
        node_id: str,
        *,
        heartbeat_seconds: float = 2.0,
        max_reconnect_delay: float = 5.0,
        queue_size: int = 10_000,
    ) -> None:
        self.node_id = node_id
        self._url = url
        self._local = local
        self._database = database
        self._heartbeat = heartbeat_seconds
        self._max_delay = max_reconnect_delay
        self._outgoing: asyncio.Queue[str] = asyncio.Queue(queue_size)
        self._incoming: asyncio.Queue[str] = asyncio.Queue(queue_size)
        self._sender: PgConnection | None = None
        self._listener: PgConnection | None = None
        self._listening = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._sequence = 0
        self._serving = False  # from then on a new LISTEN connection means events may have been missed
        self._owe_resync = False  # events could not be sent: the other nodes must catch up
        self._incoming_overflowed = False
        self.stats = NotifyStats()

    # -- the EventBus port ------------------------------------------------------------------------------------
    def subscribe(self) -> EventSubscription:
        return self._local.subscribe()

    async def publish(self, event: DomainEvent) -> None:
        await self._local.publish(event)
        if not self._tasks:
            return  # not started (a test's runtime, say): nothing would ever send it
        try:
            self._outgoing.put_nowait(self._payload(event))
        except asyncio.QueueFull:
            self._owe_resync = True
            log.error("the NOTIFY queue is full; the other nodes will be told to catch up from storage")

    @property
    def listening(self) -> bool:
        return self._listening.is_set()

    @property
    def listener_pid(self) -> int | None:
        """The server process of the LISTEN connection (the tests end it to simulate a lost connection)."""
        listener = self._listener
        return listener.get_server_pid() if listener is not None and not listener.is_closed() else None

    # -- lifecycle ----------------------------------------------------------------------------------------------
    async def start(self, *, listen: bool = True, wait_seconds: float = 5.0) -> None:
        """Start sending, and (``listen``) receiving: waits up to ``wait_seconds`` for the LISTEN, then goes on
        without it (it keeps trying; the subscribers catch up once it is there)."""
        self._tasks.append(asyncio.create_task(self._send_forever(), name="event-bus-notify"))
        if listen:
            self._tasks.append(asyncio.create_task(self._listen_forever(), name="event-bus-listen"))
            self._tasks.append(asyncio.create_task(self._deliver_forever(), name="event-bus-deliver"))
            try:
                await asyncio.wait_for(self._listening.wait(), wait_seconds)
            except TimeoutError:
                log.warning("not listening to the other nodes yet; their events will arrive once PostgreSQL answers")
        self._serving = True

    async def stop(self, flush_seconds: float = 2.0) -> None:
        """Send what is queued (bounded), then close both connections."""
        if self._tasks:
            try:
                await asyncio.wait_for(self._outgoing.join(), flush_seconds)
            except TimeoutError:
                log.warning("%d events were not sent to the other nodes before stopping", self._outgoing.qsize())
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        await close_quietly(self._sender)
        await close_quietly(self._listener)
        self._sender = self._listener = None

    # -- sending ---------------------------------------------------------------------------------------------
    def _payload(self, event: DomainEvent) -> str:
        self._sequence += 1
        # The sequence also keeps two equal events apart: PostgreSQL folds identical payloads of one transaction.
        envelope: dict[str, Any] = {"n": self.node_id, "s": self._sequence, "t": type(event).__name__}
        try:
            payload = dumps({**envelope, "e": to_json(event)})
        except TypeError:
            log.exception("cannot encode %s for the other nodes", type(event).__name__)
        else:
            if fits(payload):
                return payload
        reference = reference_of(event)
        if reference is not None:
            return dumps({**envelope, "r": reference})
        log.error("%s is too large for NOTIFY; the other nodes will catch up from storage", type(event).__name__)
        return dumps({**envelope, "t": _RESYNC})

    async def _send_forever(self) -> None:
        while True:
            try:
                batch = [await asyncio.wait_for(self._outgoing.get(), self._heartbeat)]
            except TimeoutError:
                if self._owe_resync:  # PostgreSQL may be back: tell the others what they missed
                    with contextlib.suppress(Exception):  # logged by _send; tried again next time
                        await self._send([])
                continue
            while len(batch) < _SEND_BATCH and not self._outgoing.empty():
                batch.append(self._outgoing.get_nowait())
            try:
                await self._send(batch)
            except Exception:  # this task must outlive any surprise: the other nodes catch up instead
                self._owe_resync = True
                log.exception("sending %d events to the other nodes failed", len(batch))
            finally:
                for _ in batch:
                    self._outgoing.task_done()

    async def _send(self, payloads: list[str]) -> None:
        owed = self._owe_resync
        if owed:
            self._sequence += 1
            payloads = [dumps({"n": self.node_id, "s": self._sequence, "t": _RESYNC}), *payloads]
        failure: BaseException | None = None
        for _attempt in range(2):  # a connection that died since the last send is replaced once
            try:
                if self._sender is None or self._sender.is_closed():
                    self._sender = await connect(self._url, f"events {self.node_id}")
                await self._sender.execute(_NOTIFY, CHANNEL, payloads, timeout=self._heartbeat * 2)
            except PG_ERRORS as exc:
                failure = exc
                await close_quietly(self._sender)
                self._sender = None
                continue
            self.stats.sent += len(payloads)
            if owed:
                self._owe_resync = False
                self.stats.resyncs_sent += 1
            return
        self.stats.send_failures += 1
        self._owe_resync = True
        log.warning(
            "could not notify the other nodes of %d events (%s); they will catch up once PostgreSQL answers",
            len(payloads),
            failure,
        )

    # -- receiving -------------------------------------------------------------------------------------------
    async def _listen_forever(self) -> None:
        delay = 0.1
        while True:
            lost = asyncio.Event()
            try:
                self._listener = await connect(
                    self._url, f"listen {self.node_id}", keepalive_settings(_KEEPALIVE_TIMEOUT_S)
                )
                self._listener.add_termination_listener(_setter(lost))
                await self._listener.add_listener(CHANNEL, self._on_notification)
            except Exception as exc:  # PG_ERRORS, or any surprise: this task must keep trying
                await close_quietly(self._listener)
                self._listener = None
                log.warning("cannot LISTEN for the other nodes' events (%s); trying again in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._max_delay)
                continue
            delay = 0.1
            self.stats.listens += 1
            if self._serving:
                # Whatever the others published while we were not listening is lost: catch up, in order
                # after the events received before the loss.
                self._queue_incoming(_RELISTENED)
            self._listening.set()
            try:
                await self._hold(self._listener, lost)
            finally:
                self._listening.clear()
                await close_quietly(self._listener)
                self._listener = None
            log.warning("lost the LISTEN connection to PostgreSQL; reconnecting")

    async def _hold(self, connection: PgConnection, lost: asyncio.Event) -> None:
        """Until the connection ends, or stops answering (a server that vanished sends no FIN)."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(lost.wait(), self._heartbeat)
                return
            try:
                await connection.fetchval("SELECT 1", timeout=self._heartbeat)
            except Exception:  # PG_ERRORS or a surprise: either way this connection is done
                return

    def _on_notification(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        self._queue_incoming(payload)

    def _queue_incoming(self, payload: str) -> None:
        try:
            self._incoming.put_nowait(payload)
        except asyncio.QueueFull:
            self._incoming_overflowed = True  # the deliverer tells the subscribers to catch up

    async def _deliver_forever(self) -> None:
        while True:
            payload = await self._incoming.get()
            if self._incoming_overflowed:
                self._incoming_overflowed = False
                self._resync("events from the other nodes came faster than they could be delivered")
            try:
                await self._deliver(payload)
            except Exception:  # a bad payload or a failed read must not end the delivery of the others
                log.exception("could not deliver an event from another node; catching up from storage")
                self._resync("an event could not be delivered")

    async def _deliver(self, payload: str) -> None:
        if payload == _RELISTENED:
            self._resync("the LISTEN connection was lost and is back")
            return
        envelope = json.loads(payload)
        if not isinstance(envelope, dict) or envelope.get("n") == self.node_id:
            return  # our own: already delivered here by publish()
        kind = str(envelope.get("t"))
        if kind == _RESYNC:
            self._resync(f"node {envelope.get('n')} could not send every event")
            return
        if "r" in envelope:
            event = await self._read_back(kind, int(envelope["r"]))
            if event is None:
                return  # gone since (nothing to show)
            self.stats.references += 1
        else:
            event = decode_event(kind, envelope["e"])
        await self._local.publish(event)
        self.stats.received += 1

    async def _read_back(self, kind: str, reference: int) -> DomainEvent | None:
        loader = LOADERS.get(kind)
        if loader is None:
            raise ValueError(f"no way to read back a {kind} event")
        async with self._database.unit_of_work() as uow:
            return await loader(uow, reference)

    def _resync(self, why: str) -> None:
        self.stats.resyncs += 1
        log.warning("telling this node's event subscribers to catch up from storage: %s", why)
        self._local.drop_all()


def _setter(event: asyncio.Event) -> Callable[[Any], None]:
    """A termination listener (asyncpg calls it with the connection) that sets ``event``."""
    return lambda _connection: event.set()
