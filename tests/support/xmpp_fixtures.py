"""Real Prosody servers for the tests: one per session, and private ones for tests that stop or kill theirs.

The session server ``prosody`` holds the accounts alice, bob, carol, dave and user1 … user20 of the domain
example.com (password ``<user>-pass``), the external component ``blog.example.com`` (secret
``component-secret``) and the MUC service rooms.example.com.

Components are declared in Prosody's config, so a test cannot get a component domain of its own on the
session server: **only one bridge may be connected to its ``blog.example.com`` at a time** (Prosody refuses
a second connection for the domain). A test connects its bridge and disconnects it before it ends; a test
that restarts, stops or kills the server, or that needs accounts or a component nobody else touches, takes
``private_prosody`` (ready in about 0.1 s).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest
from pydantic import SecretStr

from intrablog.config import XmppConfig
from intrablog.devstack.prosody import Prosody, prosody_version
from intrablog.devstack.slapd import free_port
from tests.support.server_report import ServersUsed, record_server, report_servers
from tests.support.xmpp_client import ImClient

DOMAIN = "example.com"
COMPONENT_DOMAIN = "blog.example.com"
COMPONENT_SECRET = "component-secret"  # the dev component's published secret
MUC_DOMAIN = "rooms.example.com"
DEMO_USERS = ("alice", "bob", "carol", "dave")
SPARE_USERS = tuple(f"user{number}" for number in range(1, 21))
ACCOUNTS = tuple((user, f"{user}-pass") for user in (*DEMO_USERS, *SPARE_USERS))

_servers_used: ServersUsed = ServersUsed()


def start_prosody(workdir: Path, config: pytest.Config, label: str, **options: Any) -> Prosody:
    """A running Prosody on free ports in ``workdir`` holding ``ACCOUNTS``; ``options`` go to :class:`Prosody`."""
    options.setdefault("component_secret", COMPONENT_SECRET)
    server = Prosody(workdir, free_port(), free_port(), **options)
    server.register_many(ACCOUNTS)
    server.start()
    record_server(config, _servers_used, label, f"c2s 127.0.0.1:{server.c2s_port}, component {server.component_port}")
    return server


def xmpp_config_for(server: Prosody, **overrides: Any) -> XmppConfig:
    """The ``[xmpp]`` settings of a bridge connecting to ``server``'s component; keyword arguments override."""
    if server.component_domain is None:
        raise ValueError("this Prosody has no component")
    settings: dict[str, Any] = {
        "enabled": True,
        "host": "127.0.0.1",
        "port": server.component_port,
        "domain": server.component_domain,
        "secret": SecretStr(server.component_secret),
        "server_domain": server.domain,
    }
    settings.update(overrides)
    return XmppConfig(**settings)


@pytest.fixture(scope="session")
def prosody(tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config) -> Iterator[Prosody]:
    """The session's Prosody. Leave it running; one bridge on its component at a time (see module doc)."""
    server = start_prosody(tmp_path_factory.mktemp("prosody"), pytestconfig, "session")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def private_prosody(tmp_path: Path, pytestconfig: pytest.Config) -> Iterator[Prosody]:
    """A Prosody of this test's own, same accounts and component: free to restart, stop and kill."""
    server = start_prosody(tmp_path / "prosody", pytestconfig, "private")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def xmpp_config(prosody: Prosody) -> XmppConfig:
    """``[xmpp]`` settings for a bridge on the session Prosody's blog.example.com."""
    return xmpp_config_for(prosody)


@pytest.fixture
def private_xmpp_config(private_prosody: Prosody) -> XmppConfig:
    return xmpp_config_for(private_prosody)


class ImClients(Protocol):
    async def __call__(
        self, user: str, *, server: Prosody | None = None, password: str | None = None, presence: bool = True
    ) -> ImClient: ...


@pytest.fixture
async def im_clients(request: pytest.FixtureRequest) -> AsyncIterator[ImClients]:
    """Logs staff in: ``bob = await im_clients("bob")`` is bob@example.com with ``bob-pass`` on the session
    Prosody (``server=private_prosody`` for another one). Every client is closed when the test ends."""
    opened: list[ImClient] = []

    async def connect(
        user: str, *, server: Prosody | None = None, password: str | None = None, presence: bool = True
    ) -> ImClient:
        target: Prosody = server if server is not None else request.getfixturevalue("prosody")
        client = ImClient(target.jid(user), password or f"{user}-pass", "127.0.0.1", target.c2s_port)
        opened.append(client)
        await client.connect(presence=presence)
        return client

    yield connect
    for client in opened:
        await client.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config) -> None:
    report_servers(terminalreporter, config, _servers_used, "prosody", prosody_version())
