"""Outbox → deliveries for announcements on SQLite and PostgreSQL: an urgent one is delivered with reason
"urgent" (which gets through "do not disturb"), and neither kind is silenced by "off"."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from intrablog.config import LdapConfig
from intrablog.domain.im import Decision, DeliveryReason, ImTarget, Presence, decide, origin_id_for_post
from intrablog.domain.model import Role
from intrablog.services.posts import PostDraft
from tests.support.im_world import World, open_world


@pytest.fixture
async def world(database_url: str, ldap_config: LdapConfig) -> AsyncIterator[World]:
    async with open_world(database_url, ldap_config) as built:
        yield built


async def test_urgent_and_ordinary_announcements_reach_everyone_even_with_im_off(world: World) -> None:
    carol = await world.person("carol")
    await world.add_member("announcements", carol, role=Role.POSTER)
    quiet, fan = await world.person("quiet"), await world.person("fan")
    await world.person("normal")
    await world.person("nojid", xmpp=None)
    gone = await world.person("gone")
    await world.services.im.set_delivery(quiet, None, on=False)
    # Stronger-looking reasons of their own do not change what an announcement is.
    await world.services.people.follow_user(fan, "carol")
    await world.services.im.track(fan, "evacuate")
    await world.deactivate(gone)

    def draft(text: str, urgent: bool) -> PostDraft:
        return PostDraft(text=text, channel="announcements", requires_ack=True, urgent=urgent)

    urgent = (await world.services.posts.create(carol, draft("Evacuate building B now, @fan", True))).id
    ordinary = (await world.services.posts.create(carol, draft("Evacuate drill on Friday", False))).id
    await world.expand()

    everyone = ("quiet", "normal", "fan")
    assert await world.deliveries_of(origin_id_for_post(urgent)) == {name: ("urgent", "pending") for name in everyone}
    assert await world.deliveries_of(origin_id_for_post(ordinary)) == {
        name: ("announcement", "pending") for name in everyone
    }
    # At send time: quiet's "off" drops neither, and only the urgent one gets through "do not disturb".
    pending = {(d.recipient_username, d.reason) for d in await world.services.delivery.pending(50)}
    assert pending == {
        (name, reason) for name in everyone for reason in (DeliveryReason.URGENT, DeliveryReason.ANNOUNCEMENT)
    }
    assert decide(Presence.DND, DeliveryReason.URGENT) is Decision.SEND
    assert decide(Presence.DND, DeliveryReason.ANNOUNCEMENT) is Decision.HOLD


async def test_switching_the_announcement_channel_off_does_not_silence_an_urgent_announcement(world: World) -> None:
    carol, muted = await world.person("carol"), await world.person("muted")
    await world.add_member("announcements", carol, role=Role.POSTER)
    announcements = ImTarget("channel", "announcements")
    await world.services.im.follow(muted, announcements)
    await world.services.im.set_delivery(muted, announcements, on=False)
    urgent = await world.services.posts.create(
        carol, PostDraft(text="Server room flooding", channel="announcements", urgent=True)
    )
    assert (urgent.requires_ack, urgent.urgent) == (False, True), "urgent without asking for acknowledgement"
    await world.expand()
    assert await world.deliveries_of(origin_id_for_post(urgent.id)) == {"muted": ("urgent", "pending")}
