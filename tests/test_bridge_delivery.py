"""Outbound delivery end to end: API → outbox → bridge → real Prosody → real XMPP clients (issue 4).

Acceptance 1 (follow from IM, receive, answer in the thread, no echo), acceptance 5 (offline storage keeps
order; dnd holds ordinary posts and summarises them in one line), echo suppression and announcements
that get through ``off``. Real slapd, Prosody and SQLite; nothing is mocked.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from intrablog.config import LdapConfig, XmppConfig
from intrablog.devstack.prosody import Prosody
from intrablog.domain.im import Presence
from tests.support.bridge_stack import (
    BOT,
    PUBLIC_URL,
    BridgeStack,
    bridge_stack,
    channel_jid,
    command,
    follow_on_roster,
    origin_ids,
    receive,
    stack_settings,
    wait_until,
)
from tests.support.xmpp_fixtures import ImClients

ENGINEERING = channel_jid("engineering")


@pytest.fixture
async def stack(sqlite_url: str, ldap_config: LdapConfig, xmpp_config: XmppConfig) -> AsyncIterator[BridgeStack]:
    async with bridge_stack(stack_settings(sqlite_url, ldap_config, xmpp_config)) as running:
        yield running


async def test_follow_receive_and_answer_in_the_thread(stack: BridgeStack, im_clients: ImClients) -> None:
    api = stack.api
    for user in ("alice", "bob"):
        await api.login(user)
    alice, bob = await im_clients("alice"), await im_clients("bob")
    assert "Following engineering" in await command(bob, "follow engineering")
    assert "Following engineering" in await command(alice, "follow engineering")

    started = time.monotonic()
    post = await api.post("alice", "Release train leaves at 15:00", channel="engineering")
    received = await bob.next_message(timeout=2)
    latency = time.monotonic() - started
    assert received.sender == ENGINEERING
    assert received.from_ == f"{ENGINEERING}/blog"
    assert received.body == f"alice: Release train leaves at 15:00\n{PUBLIC_URL}/posts/{post['id']}"
    assert received.origin_id == received.id == f"post-{post['id']}"
    assert received.receipt_requested
    print(f"API post -> bob's IM client: {latency * 1000:.0f} ms")

    # Bob answers from his client (XEP-0461, with the quoted text as XEP-0428 fallback).
    bob.send(
        ENGINEERING, "I'll be on it", reply_to_id=received.id, reply_to_jid=received.from_, reply_fallback=received.body
    )
    answer = await alice.next_message(timeout=3)
    thread = await api.json("GET", f"/api/v1/posts/{post['id']}/thread", "alice")
    assert [(p["author"]["username"], p["text"]) for p in thread] == [
        ("alice", "Release train leaves at 15:00"),
        ("bob", "I'll be on it"),
    ]
    reply = thread[1]
    assert reply["channel"] == "engineering"
    assert reply["in_reply_to"] == post["id"]
    assert answer.sender == ENGINEERING
    # Clients without XEP-0461 show the quoted fallback line (XEP-0428) that names the parent.
    fallback, _, body = answer.body.partition("\n")
    assert fallback.startswith("> ")
    assert f"{PUBLIC_URL}/posts/{post['id']}" in fallback
    assert body == f"bob: I'll be on it\n{PUBLIC_URL}/posts/{reply['id']}"
    assert answer.origin_id == f"post-{reply['id']}"
    assert answer.reply_to == f"post-{post['id']}"
    # Nobody gets their own words back: not bob his reply, not alice her post.
    await bob.expect_silence(0.5)
    await alice.expect_silence(0.1)
    assert [m.origin_id for m in alice.messages_from(ENGINEERING)] == [f"post-{reply['id']}"]


async def test_posts_from_im_are_not_echoed_and_announcements_ignore_off(
    stack: BridgeStack, im_clients: ImClients
) -> None:
    api = stack.api
    for user in ("alice", "bob", "carol", "dave"):
        await api.login(user)
    alice, bob, dave = await im_clients("alice"), await im_clients("bob"), await im_clients("dave")
    for client in (alice, bob):
        await command(client, "follow engineering")
    assert "off" in await command(dave, "off")

    bob.send(ENGINEERING, "Posted from my IM client")
    echoed = await alice.next_message(timeout=3)
    assert echoed.body.startswith("bob: Posted from my IM client\n")
    carol_post = await api.post("carol", "The office is closed on Friday", channel="announcements")
    for client in (alice, bob, dave):  # dave switched IM off: announcements still reach him
        got = await client.next_message(timeout=3)
        assert got.sender == channel_jid("announcements")
        assert got.origin_id == f"post-{carol_post['id']}"
    await stack.wait_drained()
    await bob.expect_silence(0.3)  # never his own post
    assert [m.sender for m in dave.history] == [BOT, channel_jid("announcements")]


async def test_a_follower_offline_during_20_posts_gets_all_20_in_order_at_login(
    stack: BridgeStack, im_clients: ImClients
) -> None:
    api = stack.api
    for user in ("alice", "bob"):
        await api.login(user)
    bob = await im_clients("bob")
    await command(bob, "follow engineering")
    await bob.close()

    posts = [await api.post("alice", f"update {n}", channel="engineering") for n in range(1, 21)]
    await stack.wait_drained()
    bob = await im_clients("bob")
    delivered = await receive(bob, 20)
    assert origin_ids(delivered) == [f"post-{post['id']}" for post in posts]
    assert [m.body.split("\n")[0] for m in delivered] == [f"alice: update {n}" for n in range(1, 21)]
    assert all(m.delay_stamp is not None for m in delivered)  # from the server's offline storage
    await bob.expect_silence(0.3)


async def test_dnd_holds_ordinary_posts_and_summarises_them_when_available(
    stack: BridgeStack, im_clients: ImClients
) -> None:
    api = stack.api
    for user in ("alice", "bob"):
        await api.login(user)
    bob = await im_clients("bob")
    await follow_on_roster(stack, bob, ENGINEERING)
    await bob.send_presence("dnd")
    await wait_until(lambda: stack.running.bridge.presence.get(bob.jid) is Presence.DND, 5, "bob's dnd")

    for n in range(1, 6):
        await api.post("alice", f"ordinary post {n}", channel="engineering")
    await stack.wait_drained()
    await bob.expect_silence(0.5)

    await bob.send_presence()
    summary = await bob.next_message(timeout=3)
    assert summary.sender == BOT
    assert summary.body == f"While you were away: 5 posts held back — {PUBLIC_URL}/"
    assert "\n" not in summary.body
    await bob.expect_silence(0.5)  # the posts themselves never come
    assert not bob.messages_from(ENGINEERING)


async def test_the_worker_survives_a_graceful_restart_of_intrablog(
    sqlite_url: str, ldap_config: LdapConfig, xmpp_config: XmppConfig, prosody: Prosody, im_clients: ImClients
) -> None:
    """A stop and a start of the bridge: what was PENDING goes out after the start, nothing twice."""
    settings = stack_settings(sqlite_url, ldap_config, xmpp_config)
    bob = await im_clients("bob")
    async with bridge_stack(settings) as first:
        await first.api.login("alice")
        await first.api.login("bob")
        await command(bob, "follow engineering")
        await first.running.worker.stop()  # intrablog keeps taking posts; nothing goes out
        posts = [await first.api.post("alice", f"queued {n}", channel="engineering") for n in range(5)]
        assert await first.backlog() == 5
    async with bridge_stack(settings) as second:
        delivered = await receive(bob, 5)
        await second.wait_drained()
    assert origin_ids(delivered) == [f"post-{post['id']}" for post in posts]
    await bob.expect_silence(0.3)


async def test_a_message_never_acknowledged_is_sent_again_when_its_recipient_is_back(
    stack: BridgeStack, im_clients: ImClients
) -> None:
    """DESIGN.md: what the server confirmed but the person never got, the missing receipt reveals."""
    api, returns = stack.api, stack.running.worker.returns
    for user in ("alice", "bob"):
        await api.login(user)
    bob = await im_clients("bob")
    await follow_on_roster(stack, bob, ENGINEERING)
    acknowledged = await api.post("alice", "this one arrives", channel="engineering")
    await receive(bob, 1)
    await wait_until(lambda: returns.receipts >= 1, 3, "bob's client to acknowledge")
    # The next message leaves no receipt, as if the server had lost it on the way to bob's client.
    bob.xmpp.plugin["xep_0184"].auto_ack = False
    unacknowledged = await api.post("alice", "this one is lost", channel="engineering")
    await receive(bob, 1)
    await stack.wait_drained()
    await bob.close()
    await wait_until(
        lambda: stack.running.bridge.presence.get("bob@example.com") is Presence.UNAVAILABLE,
        3,
        "bob to be seen offline",
    )

    bob = await im_clients("bob")
    [again] = await receive(bob, 1, seconds=10)
    assert again.origin_id == again.id == f"post-{unacknowledged['id']}"  # the same stable id: clients can tell
    assert again.body.startswith("alice: this one is lost\n")
    await stack.wait_drained()
    await bob.expect_silence(0.5)
    assert f"post-{acknowledged['id']}" not in {m.origin_id for m in bob.history}
    assert returns.requeued == 1
