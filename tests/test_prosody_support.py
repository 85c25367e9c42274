"""The Prosody helper, its fixtures and the staff client against a real Prosody 0.12.

What the bridge's tests lean on: two staff members talk, offline storage delivers at login with a delay
stamp (and survives a restart), a graceful restart disconnects every client and a new session works,
roster subscriptions and service discovery answer, and a server that cannot listen fails loudly.
"""

from __future__ import annotations

import asyncio
import socket
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from intrablog.config import XmppConfig
from intrablog.devstack.prosody import Prosody, ProsodyError, data_path_part, prosody_version
from intrablog.devstack.slapd import free_port
from tests.support.xmpp_client import ImClient, ImClientError
from tests.support.xmpp_fixtures import ImClients


async def test_two_staff_members_exchange_a_message_with_origin_id_and_receipt(im_clients: ImClients) -> None:
    alice = await im_clients("alice")
    bob = await im_clients("bob")

    sent_id = alice.send("bob@example.com", "lunch?", origin_id="origin-1", request_receipt=True)
    received = await bob.next_message(timeout=5)

    assert (received.sender, received.type, received.body) == ("alice@example.com", "chat", "lunch?")
    assert received.from_.startswith("alice@example.com/")
    assert received.origin_id == "origin-1"
    assert received.receipt_requested
    assert received.delay_stamp is None
    assert bob.messages_from("alice@example.com") == [received]

    reply_id = bob.send(received.from_, "yes", reply_to_id=received.id, reply_fallback="lunch?")
    answer = await alice.next_message(timeout=5)
    assert answer.id == reply_id
    assert (answer.reply_to, answer.reply_to_jid) == (sent_id, received.from_)
    assert answer.body == "> lunch?\nyes"  # the XEP-0428 fallback quotes what it answers

    # bob's client acknowledged the receipt request like an ordinary client does.
    for _ in range(100):
        if sent_id in alice.receipts:
            break
        await asyncio.sleep(0.02)
    assert sent_id in alice.receipts


async def test_typing_notifications_are_not_queued_as_messages(im_clients: ImClients) -> None:
    carol = await im_clients("carol")
    dave = await im_clients("dave")

    carol.send_chat_state("dave@example.com", "composing")
    carol.send("dave@example.com", "done typing")

    assert (await dave.next_message(timeout=5)).body == "done typing"
    await dave.expect_silence(0.1)


async def test_offline_message_arrives_at_login_with_a_delay_stamp_even_after_a_restart(
    private_prosody: Prosody, im_clients: ImClients
) -> None:
    alice = await im_clients("alice", server=private_prosody)
    alice.send("bob@example.com", "while you were out", origin_id="offline-1")
    await alice.close()
    before = datetime.now(UTC)

    await asyncio.to_thread(private_prosody.restart)  # the data folder survives
    bob = await im_clients("bob", server=private_prosody)
    received = await bob.next_message(timeout=5)

    assert (received.sender, received.body) == ("alice@example.com", "while you were out")
    assert received.origin_id == "offline-1"
    assert received.delay_stamp is not None
    assert received.delay_stamp <= before + timedelta(seconds=1)


async def test_a_graceful_restart_disconnects_every_client_and_a_new_session_works(
    private_prosody: Prosody, im_clients: ImClients
) -> None:
    alice = await im_clients("alice", server=private_prosody)
    bob = await im_clients("bob", server=private_prosody)

    # In a thread: the clients' event loop must keep running to answer Prosody closing their streams.
    await asyncio.to_thread(private_prosody.restart)
    await alice.wait_disconnected(timeout=5)
    await bob.wait_disconnected(timeout=5)
    assert not alice.connected
    assert not bob.connected

    await alice.reconnect()
    carol = await im_clients("carol", server=private_prosody)
    carol.send("alice@example.com", "still there?")
    assert (await alice.next_message(timeout=5)).body == "still there?"


async def test_a_killed_server_drops_clients_and_refuses_new_sessions(private_prosody: Prosody) -> None:
    alice = ImClient("alice@example.com", "alice-pass", "127.0.0.1", private_prosody.c2s_port)
    await alice.connect()
    try:
        private_prosody.kill()
        await alice.wait_disconnected(timeout=5)
        with pytest.raises(ImClientError, match="no session"):
            await alice.connect(timeout=0.5)
    finally:
        await alice.close()


async def test_a_message_to_the_component_without_a_bridge_bounces_as_an_error(
    private_prosody: Prosody, im_clients: ImClients
) -> None:
    bob = await im_clients("bob", server=private_prosody)

    sent_id = bob.send("engineering@blog.example.com", "anyone?")
    bounced = await bob.next_message(timeout=5)

    assert (bounced.type, bounced.id, bounced.sender) == ("error", sent_id, "engineering@blog.example.com")
    # Prosody 0.12's answer while no component is connected (mod_component): "wait", so clients retry later.
    assert (bounced.error_condition, bounced.error_text) == ("remote-server-timeout", "Component unavailable")


async def test_a_wrong_password_is_refused(im_clients: ImClients) -> None:
    with pytest.raises(ImClientError, match="refused the password"):
        await im_clients("user1", password="not-the-password")


async def test_subscriptions_presence_and_roster(im_clients: ImClients) -> None:
    user2 = await im_clients("user2")
    user3 = await im_clients("user3")

    user2.subscribe("user3@example.com")  # slixmpp accepts and subscribes back, like a person who agrees
    assert await user2.wait_for_subscription("user3@example.com", ("both",)) == "both"
    assert (await user2.roster())["user3@example.com"] == "both"

    await user3.send_presence("dnd", status="in a meeting")
    for _ in range(100):
        if user2.presences.get("user3@example.com") == "dnd":
            break
        await asyncio.sleep(0.02)
    assert user2.presences["user3@example.com"] == "dnd"

    user2.unsubscribe("user3@example.com")
    assert await user2.wait_for_subscription("user3@example.com", ("none", "from")) in ("none", "from")
    await user2.remove_contact("user3@example.com")
    assert "user3@example.com" not in await user2.roster()


async def test_service_discovery_lists_the_component_and_the_muc_service(im_clients: ImClients) -> None:
    user4 = await im_clients("user4")

    items = await user4.disco_items("example.com")
    info = await user4.disco_info("rooms.example.com")

    assert {"blog.example.com", "rooms.example.com"} <= {item.jid for item in items}
    assert any(identity.category == "conference" for identity in info.identities)
    assert "http://jabber.org/protocol/muc" in info.features


def test_xmpp_config_points_at_the_session_component(prosody: Prosody, xmpp_config: XmppConfig) -> None:
    assert xmpp_config.enabled
    assert (xmpp_config.host, xmpp_config.port) == ("127.0.0.1", prosody.component_port)
    assert xmpp_config.domain == "blog.example.com"
    assert xmpp_config.secret.get_secret_value() == prosody.component_secret == "component-secret"


async def test_accounts_added_to_a_running_server_sign_in_at_once(private_prosody: Prosody) -> None:
    private_prosody.register("eve", "eve-pass")  # through prosodyctl
    private_prosody.register_many([("frank", "frank-pass")])  # account file written directly

    for user in ("eve", "frank"):
        client = await ImClient.connect_as(f"{user}@example.com", f"{user}-pass", "127.0.0.1", private_prosody.c2s_port)
        await client.close()


def test_register_many_writes_internal_plain_files_quickly(tmp_path: Path) -> None:
    server = Prosody(tmp_path, free_port(), free_port())
    started = time.monotonic()
    server.register_many((f"person{number}", "secret") for number in range(1000))

    assert time.monotonic() - started < 2
    accounts = tmp_path / "data" / "example%2ecom" / "accounts"
    assert len(list(accounts.glob("*.dat"))) == 1000
    assert data_path_part("o'brien.x") == "o%27brien%2ex"


def test_start_fails_loudly_when_the_client_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = Prosody(tmp_path, taken.getsockname()[1], free_port())

        with pytest.raises(ProsodyError, match="could not listen") as caught:
            server.start()

    assert "Failed to open server port" in str(caught.value)
    assert not server.running


def test_start_reports_a_broken_config_with_the_log(tmp_path: Path) -> None:
    server = Prosody(tmp_path, free_port(), free_port(), extra_config="this is not lua")

    with pytest.raises(ProsodyError, match="exited with status"):
        server.start()
    assert not server.running


def test_the_version_comes_without_starting_a_server() -> None:
    assert prosody_version().startswith("0.12")
