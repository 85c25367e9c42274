"""Messages to channel and person addresses: posts, replies in threads, direct messages, and refusals that
say why and store nothing."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from bridges.xmpp.errors import REFUSAL
from intrablog.domain.im import origin_id_for_post
from intrablog.observability import ContextFilter
from tests.support.bridge_fixtures import BridgeApp

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def channel_posts(im: BridgeApp, channel: str, as_user: str = "alice") -> list[dict[str, Any]]:
    posts: list[dict[str, Any]] = await im.api.json("GET", f"/api/v1/channels/{channel}/posts?limit=100", as_user)
    return posts


async def test_a_members_message_to_a_channel_is_their_post(im: BridgeApp) -> None:
    channel = await im.new_channel()
    bob = await im.client("bob")
    await im.posted(bob, im.channel_jid(channel), "Deploy went fine 🚀 #release")
    [post] = await channel_posts(im, channel)
    assert (post["author"]["username"], post["text"], post["tags"]) == (
        "bob",
        "Deploy went fine 🚀 #release",
        ["release"],
    )
    # Following a public channel is not needed to post in it; posting does not subscribe anyone to IM.


async def test_consecutive_lines_become_posts_in_their_order(im: BridgeApp) -> None:
    channel = await im.new_channel()
    bob = await im.client("bob")
    ids = [bob.send(im.channel_jid(channel), f"line {n}", request_receipt=True) for n in range(6)]
    await im.posted(bob, im.channel_jid(channel), "line 6")
    assert set(ids) <= set(bob.receipts)
    posts = await channel_posts(im, channel)
    assert [p["text"] for p in reversed(posts)] == [f"line {n}" for n in range(7)]


async def test_an_unknown_address_is_refused_and_nothing_is_stored(
    im: BridgeApp, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bridges.xmpp")
    caplog.handler.addFilter(ContextFilter())  # what the JSON log handler adds: the stanza id
    stranger = await im.client("user1")  # has an XMPP account, is unknown to intrablog
    before = await channel_posts(im, "engineering")
    stanza_id = stranger.send(im.channel_jid("engineering"), "let me in")
    answer = await im.answer_from(stranger, im.channel_jid("engineering"))
    assert answer.body == REFUSAL
    assert await im.ask(stranger, "follow engineering") == REFUSAL
    assert await im.ask(stranger, "hello", to=im.person_jid("bob")) == REFUSAL
    assert await channel_posts(im, "engineering") == before
    # Refused once a minute per address: an auto-responder answering the refusal is not answered again.
    stranger.send(im.channel_jid("engineering"), "Auto-reply: I am away")
    await stranger.expect_silence(0.3)
    assert await channel_posts(im, "engineering") == before
    refusals = [r for r in caplog.records if r.getMessage() == "refused a message from an unknown address"]
    assert getattr(refusals[0], "request_id", None) == f"xmpp:{stanza_id}"


async def test_too_long_says_the_limit_and_stores_nothing(im: BridgeApp) -> None:
    channel = await im.new_channel()
    bob = await im.client("bob")
    answer = await im.ask(bob, "x" * 1000, to=im.channel_jid(channel))
    assert answer == "Not done: your message is 1000 characters; the limit is 280."
    assert await channel_posts(im, channel) == []


async def test_blank_is_refused(im: BridgeApp) -> None:
    channel = await im.new_channel()
    bob = await im.client("bob")
    assert await im.ask(bob, " \n ", to=im.channel_jid(channel)) == "Not done: your message must not be blank."
    assert await channel_posts(im, channel) == []


async def test_a_private_channel_refuses_a_non_member_like_an_absent_one(im: BridgeApp) -> None:
    secret = await im.new_channel(visibility="private")
    bob = await im.client("bob")
    answer = await im.ask(bob, "am I in?", to=im.channel_jid(secret))
    assert answer == f"Not found: no channel named '{secret}'."
    assert await channel_posts(im, secret) == []


async def test_an_announcement_channel_takes_posts_from_its_posters_only(im: BridgeApp) -> None:
    before = await channel_posts(im, "announcements")
    bob = await im.client("bob")
    answer = await im.ask(bob, "free cake", to=im.channel_jid("announcements"))
    assert answer == "Not allowed: you may not post in 'announcements'."
    assert await channel_posts(im, "announcements") == before
    carol = await im.client("carol")  # a poster of announcements (the config's seed)
    await im.posted(carol, im.channel_jid("announcements"), "All hands at 3")
    assert (await channel_posts(im, "announcements"))[0]["text"] == "All hands at 3"


async def test_a_reply_to_a_bridged_message_lands_in_its_thread(im: BridgeApp) -> None:
    channel = await im.new_channel()
    parent = await im.api.post("alice", "Release on Friday?", channel=channel)
    bob = await im.client("bob")
    # As a client answers a bridged message: XEP-0461 naming its id, with the quote as XEP-0428 fallback.
    await im.posted(
        bob,
        im.channel_jid(channel),
        "Yes, after the freeze",
        reply_to_id=origin_id_for_post(int(parent["id"])),
        reply_fallback="alice: Release on Friday?",
    )
    thread = await im.api.json("GET", f"/api/v1/posts/{parent['id']}/thread", "alice")
    assert [(p["author"]["username"], p["text"], p["in_reply_to"]) for p in thread] == [
        ("alice", "Release on Friday?", None),
        ("bob", "Yes, after the freeze", parent["id"]),
    ]


async def test_a_leading_post_id_makes_a_reply(im: BridgeApp) -> None:
    channel = await im.new_channel()
    parent = await im.api.post("alice", "Who reviews #42?", channel=channel)
    dave = await im.client("dave")
    await im.posted(dave, im.channel_jid(channel), f"@{parent['id']} me")
    thread = await im.api.json("GET", f"/api/v1/posts/{parent['id']}/thread", "alice")
    assert [(p["author"]["username"], p["text"], p["thread_root"]) for p in thread][1] == ("dave", "me", parent["id"])


async def test_a_reply_to_a_post_of_another_channel_is_refused(im: BridgeApp) -> None:
    here, there = await im.new_channel(), await im.new_channel()
    elsewhere = await im.api.post("alice", "over there", channel=there)
    bob = await im.client("bob")
    answer = await im.ask(bob, f"@{elsewhere['id']} hi", to=im.channel_jid(here))
    assert answer == "Not done: a reply stays in the channel of the post it answers."
    assert await channel_posts(im, here) == []


async def test_a_message_to_a_person_is_a_direct_message(im: BridgeApp) -> None:
    dave = await im.client("dave")
    await im.posted(dave, im.person_jid("alice"), "Got a minute?")
    conversation = await im.runtime.services.messages.conversation(
        im.users["alice"], "dave", im.runtime.services.timelines.page_request(1, None)
    )
    assert [(m.sender.username, m.text) for m in conversation] == [("dave", "Got a minute?")]


async def test_a_reply_to_a_persons_bridged_update_is_a_reply_to_it(im: BridgeApp) -> None:
    update = await im.api.post("carol", "Working from the Lyon office today")
    bob = await im.client("bob")
    await im.posted(
        bob, im.person_jid("carol"), "Say hi to the team", reply_to_id=origin_id_for_post(int(update["id"]))
    )
    thread = await im.api.json("GET", f"/api/v1/posts/{update['id']}/thread", "carol")
    assert [(p["author"]["username"], p["text"]) for p in thread][1:] == [("bob", "Say hi to the team")]


async def test_typing_notifications_are_neither_posts_nor_errors(im: BridgeApp) -> None:
    channel = await im.new_channel()
    bob = await im.client("bob")
    for state in ("composing", "paused", "active"):
        bob.send_chat_state(im.channel_jid(channel), state)
    bob.send_chat_state(im.domain, "composing")
    await bob.expect_silence(0.3)
    assert await channel_posts(im, channel) == []


async def test_an_address_that_is_neither_channel_nor_person_says_so(im: BridgeApp) -> None:
    bob = await im.client("bob")
    answer = await im.ask(bob, "hello?", to=f"x@{im.domain}")
    assert answer == f'Not found: nothing answers at x@{im.domain}; write "help" to {im.domain}.'
