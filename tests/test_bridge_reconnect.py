"""The bridge keeps itself connected: XMPP server restarts and outages, and its own stop.

Each test has a Prosody of its own (``private_prosody``) to restart, stop and kill, and a bridge on it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import pytest_asyncio
from pydantic import SecretStr

from bridges.xmpp.bridge import BridgeDisconnected, XmppBridge
from intrablog.devstack.prosody import Prosody
from intrablog.devstack.slapd import Slapd
from intrablog.domain.im import Presence
from tests.support.bridge_fixtures import BridgeApp, running_bridge_app
from tests.support.xmpp_fixtures import xmpp_config_for

pytestmark = pytest.mark.asyncio(loop_scope="module")

CAP = 10.0  # the bound on the reconnect back-off


@pytest_asyncio.fixture(loop_scope="module")
async def app(
    private_prosody: Prosody, slapd: Slapd, sqlite_template: Path, tmp_path: Path
) -> AsyncIterator[BridgeApp]:
    async with running_bridge_app(private_prosody, slapd, sqlite_template, tmp_path) as running:
        yield running


async def wait_until(condition: str, check: Callable[[], bool], within: float) -> float:
    """Seconds until ``check()`` is true; fails after ``within`` seconds."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < within, f"not {condition} after {within} s"
        await asyncio.sleep(0.02)
    return time.monotonic() - started


async def test_back_by_itself_after_a_server_restart(app: BridgeApp) -> None:
    sessions: list[None] = []
    app.bridge.add_session_listener(lambda: sessions.append(None))
    await asyncio.to_thread(app.prosody.restart)
    await app.bridge.wait_connected(CAP)
    bob = await app.client("bob")
    assert (await app.ask(bob, "help")).startswith("intrablog commands")
    assert sessions == [None]
    await app.bridge.confirm()


async def test_a_server_down_for_a_while_is_retried_within_the_cap(app: BridgeApp) -> None:
    await asyncio.to_thread(app.prosody.stop)
    await wait_until("disconnected", lambda: not app.bridge.connected, 5)
    await asyncio.sleep(3)  # refused connects meanwhile: slixmpp alone would now wait 9 s, then 21 s
    assert not app.bridge.connected
    await asyncio.to_thread(app.prosody.start)
    # Our back-off has reached 0.5 + 1 + 2 s: the next try comes at most 4 s after the restart.
    await app.bridge.wait_connected(CAP)
    bob = await app.client("bob")
    assert (await app.ask(bob, "help")).startswith("intrablog commands")


async def test_a_killed_server_fails_confirm_then_the_bridge_returns(app: BridgeApp) -> None:
    app.bridge.send_message("bob@example.com", app.channel_jid("engineering"), "lost?", "post-1")
    await asyncio.to_thread(app.prosody.kill)
    await wait_until("disconnected", lambda: not app.bridge.connected, 5)
    with pytest.raises(BridgeDisconnected):
        await app.bridge.confirm()
    with pytest.raises(BridgeDisconnected):
        app.bridge.send_message("bob@example.com", app.channel_jid("engineering"), "now?", "post-2")
    await asyncio.to_thread(app.prosody.start)
    await app.bridge.wait_connected(CAP)
    await app.bridge.confirm()


async def test_messages_sent_on_a_replaced_stream_are_not_confirmed(app: BridgeApp) -> None:
    app.bridge.send_message("bob@example.com", app.channel_jid("engineering"), "before", "post-3")
    await asyncio.to_thread(app.prosody.restart)
    await app.bridge.wait_connected(CAP)
    # The ping would be answered on the new stream, which says nothing about what the old one carried.
    with pytest.raises(BridgeDisconnected):
        await app.bridge.confirm()
    await app.bridge.confirm()  # nothing unconfirmed any more


async def test_roster_contacts_are_online_again_and_presence_is_relearned(app: BridgeApp) -> None:
    bob = await app.client("bob")
    bob.subscribe(app.channel_jid("engineering"))
    await bob.wait_for_subscription(app.channel_jid("engineering"), ("both",))
    await bob.send_presence("dnd")
    await wait_until("bob dnd", lambda: app.bridge.presence.get("bob@example.com") is Presence.DND, 5)
    await bob.close()
    await asyncio.to_thread(app.prosody.restart)
    await app.bridge.wait_connected(CAP)
    # After the restart the server probes our addresses for bob's roster (slixmpp's own roster would
    # answer "unsubscribed" and drop the contact); the channel is online and still "both".
    bob = await app.client("bob")
    assert await bob.wait_for_subscription(app.channel_jid("engineering"), ("both",)) == "both"
    await wait_until("the channel online", lambda: bob.presences.get(app.channel_jid("engineering")) == "available", 5)
    await wait_until("bob available", lambda: app.bridge.presence.get("bob@example.com") is Presence.AVAILABLE, 5)


async def test_a_new_bridge_asks_for_the_presence_of_whom_it_sends_to(
    app: BridgeApp, slapd: Slapd, sqlite_template: Path, tmp_path: Path
) -> None:
    bob = await app.client("bob")
    bob.subscribe(app.channel_jid("engineering"))
    await bob.wait_for_subscription(app.channel_jid("engineering"), ("both",))
    await bob.send_presence("away")
    await app.bridge.stop()  # intrablog restarts: its presence book is gone
    (tmp_path / "again").mkdir()
    async with running_bridge_app(app.prosody, slapd, sqlite_template, tmp_path / "again") as again:
        assert again.bridge.presence.get("bob@example.com") is Presence.UNAVAILABLE
        again.bridge.send_message("bob@example.com", again.channel_jid("engineering"), "hi", "post-5")
        await wait_until("bob away", lambda: again.bridge.presence.get("bob@example.com") is Presence.AWAY, 5)
        assert (await bob.next_message()).origin_id == "post-5"


async def test_nothing_reconnects_after_stop(app: BridgeApp) -> None:
    await app.bridge.stop()
    attempts = app.bridge._reconnector.attempts
    assert not app.bridge.connected
    await asyncio.to_thread(app.prosody.restart)
    await asyncio.sleep(1.0)  # more than the first back-off step
    assert not app.bridge.connected
    assert app.bridge._reconnector.attempts == attempts
    with pytest.raises(BridgeDisconnected):
        await app.bridge.wait_connected(0.2)


async def test_a_refused_handshake_is_reported_and_retried_without_harm(app: BridgeApp) -> None:
    sessions: list[None] = []
    app.bridge.add_session_listener(lambda: sessions.append(None))
    wrong = XmppBridge(app.runtime.services, xmpp_config_for(app.prosody, secret=SecretStr("wrong")), "http://x")
    second = XmppBridge(app.runtime.services, app.settings.xmpp, "http://x")  # the domain is already served
    for bridge in (wrong, second):
        await bridge.start()
    try:
        outcomes = await asyncio.gather(*(b.wait_connected(1.5) for b in (wrong, second)), return_exceptions=True)
        assert [type(outcome) for outcome in outcomes] == [BridgeDisconnected, BridgeDisconnected]
        assert wrong._reconnector.attempts >= 2  # it keeps trying, with its back-off
    finally:
        for bridge in (wrong, second):
            await bridge.stop()
    # The bridge in place was never disturbed.
    assert app.bridge.connected
    assert sessions == []
    bob = await app.client("bob")
    assert (await app.ask(bob, "help")).startswith("intrablog commands")
