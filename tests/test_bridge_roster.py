"""Roster subscriptions, presence, service discovery and vCards, as a real client sees them."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from slixmpp.exceptions import IqError

from intrablog.domain.im import Presence
from tests.support.bridge_fixtures import BridgeApp
from tests.support.xmpp_client import ImClient

pytestmark = pytest.mark.asyncio(loop_scope="module")

TIMEOUT = 5.0


def presences_of_type(client: ImClient, kind: str) -> asyncio.Queue[str]:
    """A queue of the bare JIDs that send ``client`` presences of type ``kind`` from now on."""
    queue: asyncio.Queue[str] = asyncio.Queue()
    client.xmpp.add_event_handler(f"presence_{kind}", lambda stanza: queue.put_nowait(str(stanza["from"].bare)))
    return queue


async def im_delivery(im: BridgeApp, user: str, name: str) -> bool | None:
    """IM delivery for ``name`` in ``user``'s subscriptions; None when not followed."""
    settings = await im.runtime.services.im.settings(im.users[user])
    return next((s.im_delivery for s in settings.subscriptions if s.name == name), None)


async def vcard(client: ImClient, jid: str) -> Any:
    plugin: Any = client.xmpp.plugin["xep_0054"]
    return (await plugin.get_vcard(jid, local=False, timeout=TIMEOUT))["vcard_temp"]


async def test_adding_a_channel_to_the_roster_follows_it_with_im_on(im: BridgeApp) -> None:
    channel = await im.new_channel()
    bob = await im.client("bob")
    bob.subscribe(im.channel_jid(channel))
    assert await bob.wait_for_subscription(im.channel_jid(channel), ("both",)) == "both"
    detail = await im.api.json("GET", f"/api/v1/channels/{channel}", "bob")
    assert (detail["following"], detail["my_role"]) == (True, "member")
    assert await im_delivery(im, "bob", channel) is True
    assert bob.presences.get(im.channel_jid(channel)) == "available"  # the channel appears online


async def test_removing_the_subscription_turns_im_off_but_keeps_following(im: BridgeApp) -> None:
    channel = await im.new_channel()
    bob = await im.client("bob")
    bob.subscribe(im.channel_jid(channel))
    await bob.wait_for_subscription(im.channel_jid(channel), ("both",))
    bob.unsubscribe(im.channel_jid(channel))
    await bob.wait_for_subscription(im.channel_jid(channel), ("from", "none"))
    for _ in range(100):
        if await im_delivery(im, "bob", channel) is False:
            break
        await asyncio.sleep(0.02)
    assert await im_delivery(im, "bob", channel) is False
    assert (await im.api.json("GET", f"/api/v1/channels/{channel}", "bob"))["following"] is True


async def test_adding_a_person_follows_them(im: BridgeApp) -> None:
    carol = await im.client("carol")
    carol.subscribe(im.person_jid("bob"))
    assert await carol.wait_for_subscription(im.person_jid("bob"), ("both",)) == "both"
    assert (await im.api.json("GET", "/api/v1/users/bob", "carol"))["followed_by_me"] is True
    assert await im_delivery(im, "carol", "bob") is True


async def test_the_bot_can_be_added_and_appears_online(im: BridgeApp) -> None:
    dave = await im.client("dave")
    dave.subscribe(im.domain)
    assert await dave.wait_for_subscription(im.domain, ("both",)) == "both"
    assert dave.presences.get(im.domain) == "available"


async def test_a_private_channel_is_refused_and_invisible_to_non_members(im: BridgeApp) -> None:
    secret = await im.new_channel(visibility="private")
    bob = await im.client("bob")
    refused = presences_of_type(bob, "unsubscribed")
    bob.subscribe(im.channel_jid(secret))
    assert await asyncio.wait_for(refused.get(), TIMEOUT) == im.channel_jid(secret)
    assert await bob.wait_for_subscription(im.channel_jid(secret), ("none",)) == "none"
    assert (await im.api.call("GET", f"/api/v1/channels/{secret}", "bob")).status == 404
    assert await im_delivery(im, "bob", secret) is None
    # Invisible in disco and in `channels` — exactly like a channel that does not exist ...
    assert im.channel_jid(secret) not in [item.jid for item in await bob.disco_items(im.domain)]
    with pytest.raises(IqError) as info:
        await bob.disco_info(im.channel_jid(secret))
    assert info.value.iq["error"]["condition"] == "item-not-found"
    with pytest.raises(IqError) as missing:
        await bob.disco_info(im.channel_jid("no-such-channel"))
    assert missing.value.iq["error"]["text"].replace("no-such-channel", secret) == info.value.iq["error"]["text"]
    assert secret not in await im.ask(bob, "channels")
    # ... and visible to its members.
    alice = await im.client("alice")
    assert im.channel_jid(secret) in [item.jid for item in await alice.disco_items(im.domain)]
    assert f"  {secret} — Channel {secret} (team, private)" in await im.ask(alice, "channels")


async def test_an_unknown_address_cannot_subscribe(im: BridgeApp) -> None:
    stranger = await im.client("user2")  # an XMPP account intrablog does not know
    refused = presences_of_type(stranger, "unsubscribed")
    stranger.subscribe(im.channel_jid("engineering"))
    assert await asyncio.wait_for(refused.get(), TIMEOUT) == im.channel_jid("engineering")
    assert await stranger.wait_for_subscription(im.channel_jid("engineering"), ("none",)) == "none"


async def test_disco_of_the_bot_and_of_a_channel(im: BridgeApp) -> None:
    bob = await im.client("bob")
    bot = await bob.disco_info(im.domain)
    assert [(i.category, i.type, i.name) for i in bot.identities] == [("component", "generic", "intrablog")]
    assert {"urn:xmpp:receipts", "urn:xmpp:ping", "urn:xmpp:reply:0", "vcard-temp"} <= bot.features
    items = {item.jid: item.name for item in await bob.disco_items(im.domain)}
    assert items[im.channel_jid("engineering")] == "Engineering"
    channel = await bob.disco_info(im.channel_jid("engineering"))
    assert [(i.category, i.type, i.name) for i in channel.identities] == [("client", "bot", "Engineering")]
    person = await bob.disco_info(im.person_jid("alice"))
    assert person.identities[0].name == "Alice Archer"


async def test_vcards_of_channels_people_and_the_bot(im: BridgeApp) -> None:
    bob = await im.client("bob")
    bob.xmpp.register_plugin("xep_0054")
    channel = await vcard(bob, im.channel_jid("engineering"))
    assert (channel["FN"], channel["NICKNAME"]) == ("Engineering", ["engineering"])
    person = await vcard(bob, im.person_jid("alice"))
    assert (person["FN"], person["NICKNAME"]) == ("Alice Archer", ["alice"])
    assert (await vcard(bob, im.domain))["FN"] == "intrablog"
    secret = await im.new_channel(visibility="private")
    with pytest.raises(IqError) as hidden:
        await vcard(bob, im.channel_jid(secret))
    assert hidden.value.iq["error"]["condition"] == "item-not-found"


async def test_presence_is_tracked_per_person_and_reported(im: BridgeApp) -> None:
    changes: list[tuple[str, Presence, Presence]] = []
    im.bridge.add_presence_listener(lambda jid, old, new: changes.append((jid, old, new)))
    channel = await im.new_channel()
    dave = await im.client("dave")
    dave.subscribe(im.channel_jid(channel))
    await dave.wait_for_subscription(im.channel_jid(channel), ("both",))

    async def presence_becomes(expected: Presence) -> None:
        for _ in range(250):
            if im.bridge.presence.get("dave@example.com") is expected:
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"dave is {im.bridge.presence.get('dave@example.com')}, not {expected}")

    await presence_becomes(Presence.AVAILABLE)
    await dave.send_presence("dnd")
    await presence_becomes(Presence.DND)
    # A second device that is available makes dave available, whatever the first says.
    phone = await im.client("dave")
    await presence_becomes(Presence.AVAILABLE)
    await phone.close()
    await presence_becomes(Presence.DND)
    await dave.send_presence("away")
    await presence_becomes(Presence.AWAY)
    await dave.close()
    await presence_becomes(Presence.UNAVAILABLE)
    mine = [(old, new) for jid, old, new in changes if jid == "dave@example.com"]
    assert mine[-4:] == [
        (Presence.DND, Presence.AVAILABLE),
        (Presence.AVAILABLE, Presence.DND),
        (Presence.DND, Presence.AWAY),
        (Presence.AWAY, Presence.UNAVAILABLE),
    ]
    assert im.bridge.presence.get("nobody@example.com") is Presence.UNAVAILABLE
