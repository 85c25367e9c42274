"""The bridge's whole life in one async generator, for aiohttp's ``cleanup_ctx`` (or any ``async with``).

Start order: the component first (it connects in the background and reconnects by itself, so intrablog
starts even while the XMPP server is down), then the outbound worker (it sends only while connected).
Stop order is the reverse: the worker first, so nothing is sent on a stream that is closing (a batch cut
short stays PENDING and goes out, with the same origin-ids, after the next start), then the component.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from bridges.xmpp.bridge import XmppBridge
from bridges.xmpp.outbound import EventSource, OutboundWorker
from intrablog.config import XmppConfig
from intrablog.services.facade import Services


@dataclass(frozen=True)
class RunningBridge:
    bridge: XmppBridge
    worker: OutboundWorker


@asynccontextmanager
async def running_bridge(
    services: Services, events: EventSource, config: XmppConfig, public_url: str
) -> AsyncIterator[RunningBridge]:
    """The bridge and its outbound worker, started; both stopped on the way out."""
    bridge = XmppBridge(services, config, public_url)
    worker = OutboundWorker(bridge, services, events, config.batch_size, public_url)
    await bridge.start()
    try:
        await worker.start()
        try:
            yield RunningBridge(bridge, worker)
        finally:
            await worker.stop()
    finally:
        await bridge.stop()


async def run_bridge(
    services: Services, events: EventSource, config: XmppConfig, public_url: str
) -> AsyncIterator[None]:
    """``running_bridge`` as a bare async generator, the shape aiohttp's ``cleanup_ctx`` takes."""
    async with running_bridge(services, events, config, public_url):
        yield
