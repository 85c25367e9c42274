"""The in-process event bus: services publish after commit; the live web stream and the bridges subscribe.

Each subscriber owns a bounded queue, so a slow consumer cannot stall a service: when its queue is full
the subscriber is marked overflowed and dropped, and must resubscribe and catch up from storage. Across
several nodes (PostgreSQL) ``intrablog.storage.notify_bus`` wraps this bus: it delivers here what the other
nodes publish.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from intrablog.domain.events import DomainEvent

log = logging.getLogger(__name__)


class Subscription:
    def __init__(self, bus: InMemoryEventBus, maxsize: int) -> None:
        self._bus = bus
        self._queue: asyncio.Queue[DomainEvent | None] = asyncio.Queue(maxsize=maxsize)
        self.overflowed = False

    def _offer(self, event: DomainEvent) -> bool:
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True
            return False
        return True

    async def get(self) -> DomainEvent | None:
        """The next event, or None once the subscription has been closed or overflowed."""
        if self.overflowed:
            return None
        return await self._queue.get()

    def close(self) -> None:
        self._bus.unsubscribe(self)
        if not self._queue.full():
            self._queue.put_nowait(None)

    def _drop(self) -> None:
        # Like an overflow: get() answers None from now on (waking a waiting get()), so the subscriber
        # subscribes again and catches up from storage.
        self.overflowed = True
        if not self._queue.full():
            self._queue.put_nowait(None)

    def __aiter__(self) -> AsyncIterator[DomainEvent]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[DomainEvent]:
        while (event := await self.get()) is not None:
            yield event


class InMemoryEventBus:
    def __init__(self, queue_size: int = 1000) -> None:
        self._subscribers: set[Subscription] = set()
        self._queue_size = queue_size

    def subscribe(self) -> Subscription:
        subscription = Subscription(self, self._queue_size)
        self._subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscribers.discard(subscription)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def drop_all(self) -> None:
        """End every subscription as if it had fallen behind: events may have been missed (the bus across
        nodes lost its PostgreSQL connection for a while), so every subscriber must catch up from storage."""
        subscriptions = list(self._subscribers)
        self._subscribers.clear()
        for subscription in subscriptions:
            subscription._drop()
        if subscriptions:
            log.warning("%d event subscribers told to catch up from storage", len(subscriptions))

    async def publish(self, event: DomainEvent) -> None:
        for subscription in list(self._subscribers):
            if not subscription._offer(event):
                log.warning("event subscriber fell behind and was dropped", extra={"event": type(event).__name__})
                self._subscribers.discard(subscription)
