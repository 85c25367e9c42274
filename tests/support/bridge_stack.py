"""intrablog with its XMPP bridge, in the test's own event loop: API client, services, bridge and worker.

Built the way ``intrablog.runtime`` builds the application (runtime → services → bridge → web), but with the
pieces kept in reach so a test can watch the bridge (connected? presence?) and the outbox.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from bridges.xmpp.lifecycle import RunningBridge, running_bridge
from intrablog.config import LdapConfig, ServerConfig, Settings, XmppConfig
from intrablog.domain.im import Presence
from intrablog.runtime import Runtime, build_runtime, web_settings_from
from intrablog.web.app import create_app
from tests.support.app_fixtures import Api, make_settings
from tests.support.xmpp_client import ImClient, ReceivedMessage

PUBLIC_URL = "http://intrablog.test"
COMPONENT = "blog.example.com"
BOT = COMPONENT
_POLL = 0.02


def channel_jid(name: str) -> str:
    return f"{name}@{COMPONENT}"


def stack_settings(database_url: str, ldap: LdapConfig, xmpp: XmppConfig, **overrides: Any) -> Settings:
    return make_settings(database_url, ldap, server=ServerConfig(public_url=PUBLIC_URL), xmpp=xmpp, **overrides)


@dataclass
class BridgeStack:
    api: Api
    runtime: Runtime
    running: RunningBridge

    async def backlog(self) -> int:
        return await self.runtime.services.delivery.backlog()

    async def wait_drained(self, seconds: float = 10.0) -> None:
        """Until the outbox is expanded and nothing is PENDING (sent, held or dropped)."""
        await wait_until(lambda: self._drained(), seconds, "the outbox to drain")

    async def _drained(self) -> bool:
        return await self.backlog() == 0


async def wait_until(check: Callable[[], Awaitable[bool] | bool], seconds: float, what: str) -> None:
    """Poll ``check`` (plain or async) until it is true; fail naming ``what`` after ``seconds``."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        result = check()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"waited {seconds} s for {what}")
        await asyncio.sleep(_POLL)


async def command(client: ImClient, text: str) -> str:
    """Send a command to the bot; its answer."""
    client.send(BOT, text)
    answer = await client.next_message(timeout=5)
    assert answer.sender == BOT, answer
    return answer.body


async def follow_on_roster(stack: BridgeStack, client: ImClient, jid: str) -> None:
    """Follow by adding the address to the roster: the bridge then sees the person's presence."""
    client.subscribe(jid)
    await client.wait_for_subscription(jid, ("both",))
    await wait_until(
        lambda: stack.running.bridge.presence.get(client.jid) is not Presence.UNAVAILABLE,
        5,
        f"the bridge to see {client.jid} online",
    )


def origin_ids(messages: list[ReceivedMessage]) -> list[str]:
    return [message.origin_id or "" for message in messages]


async def receive(client: ImClient, count: int, seconds: float = 5.0) -> list[ReceivedMessage]:
    """The next ``count`` messages, taken off the client's queue (``expect_silence`` then sees the rest)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    return [await client.next_message(timeout=max(deadline - loop.time(), 0.01)) for _ in range(count)]


@asynccontextmanager
async def bridge_stack(settings: Settings, *, connect_timeout: float = 10.0) -> AsyncIterator[BridgeStack]:
    runtime = build_runtime(settings)
    try:
        await runtime.services.channels.seed()
        app = create_app(runtime.services, web_settings_from(settings))
        async with running_bridge(
            runtime.services, runtime.events, settings.xmpp, settings.server.public_url
        ) as running:
            await running.bridge.wait_connected(connect_timeout)
            async with TestClient(TestServer(app)) as client:
                yield BridgeStack(Api(client), runtime, running)
    finally:
        await runtime.database.dispose()
