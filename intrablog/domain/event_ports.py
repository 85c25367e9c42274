"""The event bus as the faces and bridges see it: subscribe, and read events in order until told to catch up."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from intrablog.domain.events import DomainEvent
from intrablog.domain.ports import EventPublisher


class EventSubscription(Protocol):
    """One subscriber's events, in order. ``get`` answers None once the subscription has ended: closed, or
    dropped because events may have been missed (the subscriber fell behind, or the bus lost its link to
    the other nodes). Then subscribe again and catch up from storage."""

    async def get(self) -> DomainEvent | None: ...

    def close(self) -> None: ...

    def __aiter__(self) -> AsyncIterator[DomainEvent]: ...


class EventBus(EventPublisher, Protocol):
    """Services publish after commit; the live stream and the bridge subscribe. In memory in one process;
    across the nodes of one PostgreSQL through LISTEN/NOTIFY."""

    def subscribe(self) -> EventSubscription: ...
