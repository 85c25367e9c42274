"""intrablog with its XMPP bridge against real servers: the session Prosody and slapd, a SQLite file.

``bridge_app`` is one per test module (connecting, migrating and signing in cost more than most tests):
the services from ``build_runtime``, the bridge connected to the session Prosody's ``blog.example.com``,
and the web app behind an aiohttp TestClient (``bridge_app.api``) for checking effects the way a person
would see them. The demo users alice, bob, carol and dave are signed in once, so intrablog knows their JIDs;
the Prosody spares user1 … user20 are unknown to intrablog. The outbound worker is not running: messages a
test receives are the bridge's answers only.

Tests share the module's database, so each works on channels it creates (``bridge_app.new_channel``) or on
state no other test of the module asserts about. Test modules using it mark themselves
``pytestmark = pytest.mark.asyncio(loop_scope="module")``: the bridge lives in the module's event loop.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from bridges.xmpp.bridge import XmppBridge
from intrablog.config import Settings
from intrablog.devstack.prosody import Prosody
from intrablog.devstack.slapd import Slapd
from intrablog.domain.model import User
from intrablog.runtime import Runtime, build_runtime, web_settings_from
from intrablog.services.channels import NewChannel
from intrablog.web.app import create_app
from tests.support.app_fixtures import Api, make_settings
from tests.support.database_fixtures import sqlite_url_for
from tests.support.slapd_fixtures import ldap_config_for
from tests.support.xmpp_client import ImClient, ReceivedMessage
from tests.support.xmpp_fixtures import DEMO_USERS, xmpp_config_for

CONNECT_TIMEOUT = 10.0
ANSWER_TIMEOUT = 5.0
_names = itertools.count(1)


@dataclass
class BridgeApp:
    settings: Settings
    runtime: Runtime
    bridge: XmppBridge
    api: Api
    prosody: Prosody
    users: dict[str, User]
    clients: list[ImClient] = field(default_factory=list)

    @property
    def domain(self) -> str:
        return self.bridge.addresses.domain

    def channel_jid(self, name: str) -> str:
        return self.bridge.addresses.channel_jid(name)

    def person_jid(self, username: str) -> str:
        return self.bridge.addresses.person_jid(username)

    async def client(self, user: str, *, presence: bool = True) -> ImClient:
        """``user``@example.com logged in (closed at the end of the test by ``im``)."""
        client = ImClient(self.prosody.jid(user), f"{user}-pass", "127.0.0.1", self.prosody.c2s_port)
        self.clients.append(client)
        await client.connect(presence=presence)
        return client

    async def ask(self, client: ImClient, text: str, to: str | None = None) -> str:
        """Send ``text`` to the bot (or to ``to``) and return the answer, which must come from there."""
        address = to or self.domain
        client.send(address, text)
        answer = await self.answer_from(client, address)
        return answer.body

    async def answer_from(self, client: ImClient, address: str) -> ReceivedMessage:
        answer = await client.next_message(ANSWER_TIMEOUT)
        assert answer.sender == address, f"expected an answer from {address}, got {answer}"
        assert answer.type == "chat", answer
        return answer

    async def posted(self, client: ImClient, to: str, text: str, **options: Any) -> str:
        """Send ``text`` to ``to`` asking for a receipt, and wait for it: the bridge acknowledges a message
        once it has handled it without error, so the post (or direct message) is stored. Returns the id."""
        received_before = len(client.history)
        stanza_id = client.send(to, text, request_receipt=True, **options)
        deadline = asyncio.get_running_loop().time() + ANSWER_TIMEOUT
        while stanza_id not in client.receipts:
            if len(client.history) > received_before:
                raise AssertionError(f"an answer instead of a receipt: {client.history[received_before:]}")
            assert asyncio.get_running_loop().time() < deadline, f"no receipt for {stanza_id}"
            await asyncio.sleep(0.01)
        return stanza_id

    async def new_channel(self, kind: str = "team", visibility: str = "public", owner: str = "alice") -> str:
        """A channel of this test's own (its owner is admin, member and follower)."""
        name = f"ch{next(_names)}-{visibility[:3]}"
        await self.runtime.services.channels.create(
            self.users[owner], NewChannel(name=name, title=f"Channel {name}", kind=kind, visibility=visibility)
        )
        return name

    async def close_clients(self) -> None:
        while self.clients:
            await self.clients.pop().close()


@asynccontextmanager
async def running_bridge_app(
    prosody: Prosody, slapd: Slapd, sqlite_template: Path, folder: Path, **xmpp: Any
) -> AsyncIterator[BridgeApp]:
    """The whole set-up on ``prosody``, its database a copy of the migrated template in ``folder``;
    ``xmpp`` overrides ``[xmpp]`` settings. Returns once the bridge has a session."""
    database = folder / "intrablog.db"
    shutil.copyfile(sqlite_template, database)
    settings = make_settings(sqlite_url_for(database), ldap_config_for(slapd), xmpp=xmpp_config_for(prosody, **xmpp))
    runtime = build_runtime(settings)
    try:
        await runtime.services.channels.seed()
        users = {}
        for name in DEMO_USERS:
            users[name] = (await runtime.services.accounts.sign_in(name, f"{name}-pass")).user
        bridge = XmppBridge(runtime.services, settings.xmpp, settings.server.public_url)
        await bridge.start()
        try:
            await bridge.wait_connected(CONNECT_TIMEOUT)
            async with TestClient(TestServer(create_app(runtime.services, web_settings_from(settings)))) as http:
                api = Api(http)
                for name in DEMO_USERS:
                    await api.login(name)
                app = BridgeApp(settings, runtime, bridge, api, prosody, users)
                try:
                    yield app
                finally:
                    await app.close_clients()
        finally:
            await bridge.stop()
    finally:
        await runtime.database.dispose()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def bridge_app(
    prosody: Prosody, slapd: Slapd, sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[BridgeApp]:
    async with running_bridge_app(prosody, slapd, sqlite_template, tmp_path_factory.mktemp("bridge")) as app:
        yield app


@pytest_asyncio.fixture(loop_scope="module")
async def im(bridge_app: BridgeApp) -> AsyncIterator[BridgeApp]:
    """``bridge_app`` for one test: the IM clients it opens are closed when it ends."""
    yield bridge_app
    await bridge_app.close_clients()
