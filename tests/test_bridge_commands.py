"""Every bot command over a real XMPP client: its answer, and its effect as the API or the services see it."""

from __future__ import annotations

import pytest

from bridges.xmpp.replies import UNKNOWN_COMMAND
from intrablog.domain.im import ImTarget
from tests.support.bridge_fixtures import BridgeApp

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_help_lists_every_command(im: BridgeApp) -> None:
    bob = await im.client("bob")
    answer = await im.ask(bob, "HELP")  # verbs are case-insensitive
    for form in ("follow <channel|@user>", "off [channel|@user]", "d <user> <text>", "reply <post id> <text>"):
        assert form in answer
    assert f"NAME@{im.domain}" in answer


async def test_unknown_command_gets_a_hint_to_help(im: BridgeApp) -> None:
    bob = await im.client("bob")
    assert await im.ask(bob, "please follow everything") == UNKNOWN_COMMAND
    assert "help" in UNKNOWN_COMMAND


async def test_a_known_command_without_its_argument_shows_its_usage(im: BridgeApp) -> None:
    bob = await im.client("bob")
    assert await im.ask(bob, "follow") == (
        "Usage: follow <channel|@user> — follow a channel or a person, with IM delivery on."
    )


async def test_follow_a_channel(im: BridgeApp) -> None:
    channel = await im.new_channel()
    bob = await im.client("bob")
    assert await im.ask(bob, f"follow {channel.upper()}") == f"Following {channel} on IM."
    detail = await im.api.json("GET", f"/api/v1/channels/{channel}", "bob")
    assert detail["following"] is True
    settings = await im.runtime.services.im.settings(im.users["bob"])
    assert any(s.name == channel and s.im_delivery for s in settings.subscriptions)


async def test_follow_a_person(im: BridgeApp) -> None:
    dave = await im.client("dave")
    assert await im.ask(dave, "follow @carol") == "Following @carol on IM."
    profile = await im.api.json("GET", "/api/v1/users/carol", "dave")
    assert profile["followed_by_me"] is True


async def test_leave(im: BridgeApp) -> None:
    channel = await im.new_channel()
    bob = await im.client("bob")
    await im.ask(bob, f"follow {channel}")
    assert await im.ask(bob, f"leave {channel}") == f"Stopped following {channel}."
    detail = await im.api.json("GET", f"/api/v1/channels/{channel}", "bob")
    assert detail["following"] is False


async def test_off_and_on_for_one_channel(im: BridgeApp) -> None:
    channel = await im.new_channel()
    bob = await im.client("bob")
    await im.ask(bob, f"follow {channel}")
    assert await im.ask(bob, f"off {channel}") == f"IM delivery for {channel} is off."
    settings = await im.runtime.services.im.settings(im.users["bob"])
    assert [s.im_delivery for s in settings.subscriptions if s.name == channel] == [False]
    detail = await im.api.json("GET", f"/api/v1/channels/{channel}", "bob")
    assert detail["following"] is True  # off switches IM delivery, it does not unfollow
    assert await im.ask(bob, f"on {channel}") == f"IM delivery for {channel} is on."
    settings = await im.runtime.services.im.settings(im.users["bob"])
    assert [s.im_delivery for s in settings.subscriptions if s.name == channel] == [True]


async def test_off_and_on_globally(im: BridgeApp) -> None:
    carol = await im.client("carol")
    assert (await im.ask(carol, "off")).startswith("IM delivery is off")
    assert (await im.runtime.services.im.settings(im.users["carol"])).im_enabled is False
    assert await im.ask(carol, "On") == "IM delivery is on."
    assert (await im.runtime.services.im.settings(im.users["carol"])).im_enabled is True


async def test_subscriptions(im: BridgeApp) -> None:
    channel = await im.new_channel()
    bob = await im.client("bob")
    await im.ask(bob, f"follow {channel}")
    await im.ask(bob, f"off {channel}")
    answer = await im.ask(bob, "subscriptions")
    assert answer.startswith("IM delivery is on. You follow:")
    assert f"  {channel} — IM off" in answer.splitlines()


async def test_channels_lists_the_visible_ones(im: BridgeApp) -> None:
    public = await im.new_channel()
    bob = await im.client("bob")
    answer = await im.ask(bob, "channels")
    assert f"  {public} — Channel {public} (team) {im.channel_jid(public)}" in answer.splitlines()
    assert "engineering — Engineering" in answer


async def test_direct_message(im: BridgeApp) -> None:
    bob = await im.client("bob")
    assert await im.ask(bob, "d @carol lunch at noon?\nby the lake") == "Sent to @carol."
    conversation = await im.runtime.services.messages.conversation(
        im.users["carol"], "bob", im.runtime.services.timelines.page_request(5, None)
    )
    assert conversation[0].text == "lunch at noon?\nby the lake"
    assert conversation[0].sender.username == "bob"


async def test_get_the_latest_post(im: BridgeApp) -> None:
    channel = await im.new_channel()
    bob = await im.client("bob")
    assert await im.ask(bob, f"get {channel}") == f"Nothing posted in {channel} yet."
    created = await im.api.post("alice", "the latest news", channel=channel)
    answer = await im.ask(bob, f"get {channel}")
    assert answer.startswith(f"alice in {channel}: the latest news\n")
    assert created["url"] in answer


async def test_whois(im: BridgeApp) -> None:
    bob = await im.client("bob")
    answer = await im.ask(bob, "whois @Alice")
    assert answer.splitlines()[0] == "Alice Archer (@alice)"
    assert f"IM: {im.person_jid('alice')}" in answer


async def test_reply(im: BridgeApp) -> None:
    channel = await im.new_channel()
    parent = await im.api.post("alice", "who has the keys?", channel=channel)
    bob = await im.client("bob")
    answer = await im.ask(bob, f"reply {parent['id']} I do")
    assert answer.startswith("Replied in the thread: ")
    thread = await im.api.json("GET", f"/api/v1/posts/{parent['id']}/thread", "alice")
    assert [(p["author"]["username"], p["text"], p["in_reply_to"]) for p in thread][1:] == [
        ("bob", "I do", parent["id"])
    ]


async def test_fav(im: BridgeApp) -> None:
    channel = await im.new_channel()
    post = await im.api.post("alice", "worth keeping", channel=channel)
    bob = await im.client("bob")
    before = (await im.runtime.services.im.stats(im.users["bob"])).favourites
    answer = await im.ask(bob, f"fav {post['url']}")  # a post's link works as well as its id
    assert answer.startswith(f"Saved as a favourite: alice in {channel}: worth keeping")
    assert (await im.runtime.services.im.stats(im.users["bob"])).favourites == before + 1


async def test_track_tracks_and_untrack(im: BridgeApp) -> None:
    dave = await im.client("dave")
    assert await im.ask(dave, "track Launch") == "Tracking 'launch'."
    assert "launch" in (await im.ask(dave, "tracks")).removeprefix("You track: ").split(", ")
    assert [w.word for w in await im.runtime.services.im.tracks(im.users["dave"])] == ["launch"]
    assert await im.ask(dave, "untrack launch") == "No longer tracking 'launch'."
    assert await im.runtime.services.im.tracks(im.users["dave"]) == []
    assert await im.ask(dave, "untrack launch") == "You were not tracking 'launch'."


async def test_stats(im: BridgeApp) -> None:
    carol = await im.client("carol")
    await im.runtime.services.im.follow(im.users["carol"], ImTarget("person", "dave"))
    numbers = await im.runtime.services.im.stats(im.users["carol"])
    answer = await im.ask(carol, "stats")
    assert f"  posts: {numbers.posts}" in answer.splitlines()
    assert f"  following: {numbers.following_people} people, {numbers.following_channels} channels" in answer
    assert numbers.following_people >= 1


async def test_a_refused_command_says_why(im: BridgeApp) -> None:
    secret = await im.new_channel(visibility="private")
    bob = await im.client("bob")
    # A private channel bob is not in answers exactly like one that does not exist.
    assert await im.ask(bob, f"follow {secret}") == f"Not found: no channel named '{secret}'."
    assert await im.ask(bob, "follow nosuchchannel") == "Not found: no channel named 'nosuchchannel'."
    assert await im.ask(bob, "leave announcements") == (
        "Not allowed: announcements is an announcement channel: it reaches everyone and cannot be left."
    )


async def test_a_command_sent_as_a_reply_to_the_bot_drops_the_quote(im: BridgeApp) -> None:
    channel = await im.new_channel()
    bob = await im.client("bob")
    bob.send(im.domain, f"follow {channel}", reply_to_id="an-answer", reply_fallback="I don't know that command.")
    assert (await im.answer_from(bob, im.domain)).body == f"Following {channel} on IM."
