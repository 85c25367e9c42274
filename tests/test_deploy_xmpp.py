"""The XMPP server examples of deploy/ work with the [xmpp] section of deploy/intrablog.example.toml.

The Prosody snippet is included as it is into a real Prosody's config; a component handshake with the
example's domain and secret succeeds, a person's message reaches the component's addresses, and a second
connection for the domain is refused (one bridge at a time). The ejabberd example parses and declares the
component listener on loopback with the same domain and secret (running ejabberd is not part of the suite).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import slixmpp
import yaml
from pydantic import SecretStr

from intrablog.config import XmppConfig, load_settings
from intrablog.devstack.prosody import Prosody, lua_string
from intrablog.devstack.slapd import free_port
from intrablog.devstack.stack_config import REPO_ROOT
from tests.support.xmpp_fixtures import ImClients

PROSODY_SNIPPET = REPO_ROOT / "deploy" / "prosody" / "blog-component.cfg.lua"
EJABBERD_EXAMPLE = REPO_ROOT / "deploy" / "ejabberd" / "ejabberd-blog.yml"
EXAMPLE = REPO_ROOT / "deploy" / "intrablog.example.toml"


@pytest.fixture
def example_xmpp(monkeypatch: pytest.MonkeyPatch) -> XmppConfig:
    for name in [name for name in os.environ if name.startswith("INTRABLOG_")]:
        monkeypatch.delenv(name)
    return load_settings(EXAMPLE).xmpp


@pytest.fixture
def snippet_prosody(tmp_path: Path) -> Iterator[Prosody]:
    # No component of the helper's own: the only component is the one the shipped snippet declares.
    server = Prosody(
        tmp_path,
        free_port(),
        free_port(),
        component_domain=None,
        muc_domain=None,
        extra_config=f"Include {lua_string(str(PROSODY_SNIPPET))}\n",
    )
    server.register_many([("bob", "bob-pass")])
    with server:
        yield server


class Component:
    """A raw XEP-0114 component connection, as the bridge makes it; ``outcome`` says how the handshake ended."""

    def __init__(self, config: XmppConfig, port: int) -> None:
        component_class: Any = slixmpp.ComponentXMPP  # untyped constructor
        self.xmpp: Any = component_class(
            config.domain, config.secret.get_secret_value(), "127.0.0.1", port, fix_error_ns=True
        )
        self.outcome: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.received: asyncio.Queue[tuple[str, str, str]] = asyncio.Queue()
        self.xmpp.add_event_handler("session_start", lambda _: self._settle("session_start"))
        self.xmpp.add_event_handler("stream_error", lambda error: self._settle(f"stream error {error['condition']}"))
        self.xmpp.add_event_handler("disconnected", lambda _: self._settle("disconnected"))
        self.xmpp.add_event_handler(
            "message", lambda msg: self.received.put_nowait((str(msg["from"]), str(msg["to"]), str(msg["body"])))
        )

    def _settle(self, outcome: str) -> None:
        if not self.outcome.done():
            self.outcome.set_result(outcome)

    async def handshake(self) -> str:
        self.xmpp.connect()
        return await asyncio.wait_for(asyncio.shield(self.outcome), 5)

    async def close(self) -> None:
        self.xmpp.cancel_connection_attempt()
        if self.xmpp.is_connected():
            await self.xmpp.disconnect()
        task = getattr(self.xmpp, "_run_out_filters", None)
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def test_the_examples_agree_on_domain_and_secret(example_xmpp: XmppConfig) -> None:
    snippet = PROSODY_SNIPPET.read_text(encoding="utf-8")
    secret = example_xmpp.secret.get_secret_value()

    assert re.search(rf'^Component "{re.escape(example_xmpp.domain)}"$', snippet, re.MULTILINE)
    assert re.search(rf'^\s+component_secret = "{re.escape(secret)}"$', snippet, re.MULTILINE)
    assert "CHANGE-ME" in secret
    assert (example_xmpp.host, example_xmpp.port) == ("127.0.0.1", 5347)


async def test_prosody_loads_the_snippet_and_accepts_the_documented_secret(
    snippet_prosody: Prosody, example_xmpp: XmppConfig, im_clients: ImClients
) -> None:
    bridge = Component(example_xmpp, snippet_prosody.component_port)
    try:
        assert await bridge.handshake() == "session_start"

        # A person's message to a channel address reaches the component: no DNS, no s2s involved.
        bob = await im_clients("bob", server=snippet_prosody)
        bob.send(f"engineering@{example_xmpp.domain}", "hello bridge")
        sender, to, body = await asyncio.wait_for(bridge.received.get(), 5)
        channel = f"engineering@{example_xmpp.domain}"
        assert (sender.split("/")[0], to, body) == ("bob@example.com", channel, "hello bridge")

        # One bridge at a time: a second connection for the domain is refused while the first lasts.
        second = Component(example_xmpp, snippet_prosody.component_port)
        try:
            assert await second.handshake() == "stream error conflict"
        finally:
            await second.close()
        assert bridge.xmpp.is_connected()
    finally:
        await bridge.close()


async def test_prosody_refuses_the_component_with_a_wrong_secret(
    snippet_prosody: Prosody, example_xmpp: XmppConfig
) -> None:
    wrong = example_xmpp.model_copy(update={"secret": SecretStr("not-the-secret")})
    bridge = Component(wrong, snippet_prosody.component_port)
    try:
        assert await bridge.handshake() == "stream error not-authorized"
    finally:
        await bridge.close()


def test_ejabberd_example_declares_the_component_listener_on_loopback(example_xmpp: XmppConfig) -> None:
    document = yaml.safe_load(EJABBERD_EXAMPLE.read_text(encoding="utf-8"))

    assert isinstance(document, dict)
    assert set(document) == {"listen"}, "only the listener: the component domain is never one of ejabberd's hosts"
    services = [entry for entry in document["listen"] if entry.get("module") == "ejabberd_service"]
    assert len(services) == 1
    listener = services[0]
    assert ipaddress.ip_address(listener["ip"]).is_loopback
    assert listener["port"] == example_xmpp.port
    assert example_xmpp.domain in listener["hosts"]
    assert listener["hosts"][example_xmpp.domain] == {"password": example_xmpp.secret.get_secret_value()}
