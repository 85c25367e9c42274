"""Acknowledging announcements on IM (issue 6, item 4), against the real Prosody, slapd and both databases.

``ack <id>`` to the bot, ``ack`` answered to the announcement (or to its reminder), plain ``ack`` to the
announcement channel, and the refusals; each effect is checked in the service's report. Then what IM
shows: the "reply ack" line, urgent announcements getting through "do not disturb", and the one reminder
reaching only those who have not acknowledged. The bridge's pure parts (parser, wording) come first.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from bridges.xmpp import commands
from bridges.xmpp.acks import is_ack
from bridges.xmpp.addresses import Addresses
from bridges.xmpp.inbound import post_id_of_origin
from bridges.xmpp.outbound_messages import ACK_HINT, render
from bridges.xmpp.replies import first_words
from intrablog.config import AnnouncementsConfig, LdapConfig, XmppConfig
from intrablog.domain.im import Delivery, DeliveryReason, DeliveryState, Presence
from intrablog.domain.model import AckReport, AuthorView, Post, User
from intrablog.services.channels import NewChannel
from tests.support.bridge_stack import (
    BOT,
    PUBLIC_URL,
    BridgeStack,
    bridge_stack,
    channel_jid,
    command,
    follow_on_roster,
    receive,
    stack_settings,
    wait_until,
)
from tests.support.xmpp_client import ImClient, ImClientError, ReceivedMessage
from tests.support.xmpp_fixtures import ImClients

ANNOUNCEMENTS = channel_jid("announcements")
# Short enough that a test waits it out; the reminder round only runs when a test calls it.
REMINDER_MINUTES = 0.002
NOTICE = "Office closed on Monday: the heating is being replaced"

# -- the pure parts -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("ack", commands.Ack(None)),
        ("ACK", commands.Ack(None)),
        ("ack 123", commands.Ack(123)),
        ("Ack #123", commands.Ack(123)),
        ("ack post-123", commands.Ack(123)),
        (f"ack {PUBLIC_URL}/posts/123", commands.Ack(123)),
        ("ack soon", commands.Usage("ack", "ack [post id]")),
        ("ack 1 2", commands.Usage("ack", "ack [post id]")),
    ],
)
def test_parse_ack(text: str, command: commands.Command) -> None:
    assert commands.parse(text) == command


def test_what_counts_as_an_ack_sent_to_a_channel() -> None:
    assert all(is_ack(text) for text in ("ack", " Ack ", "ACK!", "ack."))
    assert not any(is_ack(text) for text in ("ack, on it", "acknowledged", "back", ""))


def test_a_reminder_names_its_announcement() -> None:
    assert post_id_of_origin("reminder-77") == 77
    assert post_id_of_origin("post-77") == 77
    assert post_id_of_origin("reminder-") is None


def test_first_words_cut_at_a_word() -> None:
    assert first_words("short\nnotice") == "short notice"
    long = "Quarterly all-hands meeting moves to the big auditorium on the third floor next week"
    assert first_words(long) == "Quarterly all-hands meeting moves to the big auditorium on…"


def _post(**changes: Any) -> Post:
    values: dict[str, Any] = {
        "id": 42,
        "author_id": 1,
        "author": AuthorView("carol", "Carol Chen"),
        "channel_id": 3,
        "channel_name": "announcements",
        "text": NOTICE,
        "in_reply_to": None,
        "thread_root": 42,
        "created_at": datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
        "edited_at": None,
        "deleted_at": None,
    }
    return Post(**(values | changes))


def _delivery(post: Post, reason: DeliveryReason, origin_id: str) -> Delivery:
    return Delivery(
        1, 2, "bob", "bob@example.com", reason, DeliveryState.PENDING, origin_id, post.created_at, post=post
    )


def test_how_announcements_and_reminders_read_on_im() -> None:
    addresses = Addresses("blog.example.com")
    link = f"{PUBLIC_URL}/posts/42"
    plain = render(_delivery(_post(), DeliveryReason.ANNOUNCEMENT, "post-42"), addresses, PUBLIC_URL)
    assert plain is not None
    assert plain.body == f"carol: {NOTICE}\n{link}"
    asking = render(_delivery(_post(requires_ack=True), DeliveryReason.ANNOUNCEMENT, "post-42"), addresses, PUBLIC_URL)
    assert asking is not None
    assert asking.body == f"carol: {NOTICE}\n{link}\n{ACK_HINT}"
    urgent = _post(requires_ack=True, urgent=True)
    marked = render(_delivery(urgent, DeliveryReason.URGENT, "post-42"), addresses, PUBLIC_URL)
    assert marked is not None
    assert marked.body == f"URGENT: carol: {NOTICE}\n{link}\n{ACK_HINT}"
    reminder = render(_delivery(urgent, DeliveryReason.REMINDER, "reminder-42"), addresses, PUBLIC_URL)
    assert reminder is not None
    assert reminder.body == f"Reminder: please acknowledge — carol: {NOTICE}\n{link} (reply ack)"
    assert (reminder.sender, reminder.origin_id) == ("announcements@blog.example.com", "reminder-42")
    assert (reminder.reply_to_origin, reminder.reply_to_jid) == ("post-42", "announcements@blog.example.com")


# -- against the servers ------------------------------------------------------------------------------------


@pytest.fixture
async def stack(database_url: str, ldap_config: LdapConfig, xmpp_config: XmppConfig) -> AsyncIterator[BridgeStack]:
    settings = stack_settings(
        database_url,
        ldap_config,
        xmpp_config,
        announcements=AnnouncementsConfig(reminder_delay_minutes=REMINDER_MINUTES),
    )
    async with bridge_stack(settings) as running:
        for user in ("alice", "bob", "carol", "dave"):
            await running.api.login(user)
        yield running


@pytest.fixture
async def staff(stack: BridgeStack, im_clients: ImClients) -> AsyncIterator[dict[str, ImClient]]:
    """alice, bob, carol and dave online on IM for the whole test.

    The session Prosody outlives each test's database: an announcement to someone offline would wait in
    its offline storage and reach a later test. So everyone is online while announcements go out, what
    earlier tests left there is taken off first, and the test ends once the bridge has sent everything.
    """
    clients = {name: await im_clients(name) for name in ("alice", "bob", "carol", "dave")}
    await asyncio.sleep(0.3)  # offline storage is delivered right after the initial presence
    for client in clients.values():
        while True:
            try:
                await client.next_message(timeout=0.05)
            except ImClientError:
                break
    yield clients
    await stack.wait_drained()
    for client in clients.values():
        await client.close()


async def _user(stack: BridgeStack, username: str) -> User:
    return (await stack.runtime.services.accounts.sign_in(username, f"{username}-pass")).user


async def _report(stack: BridgeStack, post_id: str) -> AckReport:
    return await stack.runtime.services.announcements.report(await _user(stack, "carol"), int(post_id))


def _acknowledged(report: AckReport) -> dict[str, str]:
    return {ack.username: ack.via for ack in report.acknowledged}


async def _announce(
    stack: BridgeStack, readers: list[ImClient], text: str = NOTICE, **flags: bool
) -> tuple[dict[str, Any], list[ReceivedMessage]]:
    """carol's announcement (asking for acknowledgement unless told otherwise), as each reader received it."""
    post = await stack.api.post("carol", text, channel="announcements", **({"requires_ack": True} | flags))
    received = [(await receive(reader, 1))[0] for reader in readers]
    assert all(message.origin_id == f"post-{post['id']}" for message in received), received
    return post, received


async def _ask(client: ImClient, text: str, to: str = ANNOUNCEMENTS) -> str:
    client.send(to, text)
    answer = await client.next_message(timeout=5)
    assert answer.sender == to, answer
    return answer.body


async def test_help_lists_ack(stack: BridgeStack, staff: dict[str, ImClient]) -> None:
    bob = staff["bob"]
    answer = await command(bob, "help")
    assert "ack [post id]" in answer
    assert "answer ack to an announcement to acknowledge it" in answer


async def test_ack_with_the_post_id_to_the_bot(stack: BridgeStack, staff: dict[str, ImClient]) -> None:
    bob = staff["bob"]
    post, [received] = await _announce(stack, [bob])
    assert received.body == f"carol: {NOTICE}\n{PUBLIC_URL}/posts/{post['id']}\n{ACK_HINT}"
    assert await command(bob, f"ack #{post['id']}") == f"Acknowledged: {NOTICE}"
    report = await _report(stack, post["id"])
    assert _acknowledged(report) == {"bob": "im"}
    assert {person.username for person in report.pending} == {"alice", "dave"}
    # Again: the same answer, and still the one acknowledgement of the first time.
    assert await command(bob, f"ack {post['url']}") == f"Acknowledged: {NOTICE}"
    again = await _report(stack, post["id"])
    assert again.acknowledged == report.acknowledged


async def test_ack_answered_to_the_announcement(stack: BridgeStack, staff: dict[str, ImClient]) -> None:
    bob = staff["bob"]
    post, [received] = await _announce(stack, [bob])
    # As a client answers: XEP-0461 naming the message, with its quote as XEP-0428 fallback.
    bob.send(ANNOUNCEMENTS, "ack", reply_to_id=received.id, reply_to_jid=received.from_, reply_fallback=received.body)
    answer = await bob.next_message(timeout=5)
    assert (answer.sender, answer.body) == (ANNOUNCEMENTS, f"Acknowledged: {NOTICE}")
    assert _acknowledged(await _report(stack, post["id"])) == {"bob": "im"}
    thread = await stack.api.json("GET", f"/api/v1/posts/{post['id']}/thread", "carol")
    assert [p["id"] for p in thread] == [post["id"]], "an acknowledgement is not a reply"


async def test_plain_ack_to_the_channel_takes_the_newest_waiting(
    stack: BridgeStack, staff: dict[str, ImClient]
) -> None:
    dave = staff["dave"]
    older, _ = await _announce(stack, [dave], "Fire drill on Tuesday at 10")
    newer, _ = await _announce(stack, [dave], "New expense policy from March")
    await _announce(stack, [dave], "Cake in the kitchen", requires_ack=False)
    assert await _ask(dave, "Ack!") == (
        "Acknowledged: New expense policy from March\n"
        "1 more announcement is waiting for you: send ack again, or ack <post id>:\n"
        f"  {older['id']}: Fire drill on Tuesday at 10"
    )
    assert await _ask(dave, "ack") == "Acknowledged: Fire drill on Tuesday at 10"
    assert await _ask(dave, "ack") == "Nothing in announcements is waiting for your acknowledgement."
    for post in (older, newer):
        assert _acknowledged(await _report(stack, post["id"])) == {"dave": "im"}
    # The bot's plain "ack" looks in every channel.
    assert await command(dave, "ack") == (
        "Nothing is waiting for your acknowledgement. To acknowledge a given post: ack <post id>."
    )


async def test_refusals_say_why_and_acknowledge_nothing(stack: BridgeStack, staff: dict[str, ImClient]) -> None:
    bob, carol = staff["bob"], staff["carol"]
    asking, [received] = await _announce(stack, [bob])
    plain, [plain_received] = await _announce(stack, [bob], "Cake in the kitchen", requires_ack=False)
    assert await command(bob, "ack 999999") == "Not found: no post 999999."
    assert await command(bob, f"ack {plain['id']}") == f"Not done: post {plain['id']} does not ask for acknowledgement."
    assert await command(bob, "ack soon") == (
        "Usage: ack [post id] — acknowledge an announcement; alone, the newest one waiting for you."
    )
    bob.send(ANNOUNCEMENTS, "ack", reply_to_id=plain_received.id, reply_to_jid=plain_received.from_)
    refused = await bob.next_message(timeout=5)
    assert (refused.sender, refused.body) == (
        ANNOUNCEMENTS,
        f"Not done: post {plain['id']} does not ask for acknowledgement.",
    )
    own = await command(carol, f"ack {asking['id']}")
    assert own.startswith("Not done: ")
    assert "your own announcement" in own
    assert _acknowledged(await _report(stack, asking["id"])) == {}
    # A private channel's post stays as absent as one that does not exist.
    secret = await stack.runtime.services.channels.create(
        await _user(stack, "alice"), NewChannel(name="ack-secret", title="Secret", visibility="private")
    )
    hidden = await stack.api.post("alice", "members only", channel=secret.channel.name)
    assert await command(bob, f"ack {hidden['id']}") == f"Not found: no post {hidden['id']}."
    assert received.body.endswith(ACK_HINT)  # what bob answered was the announcement asking for it


async def test_ack_in_a_team_channel_is_an_ordinary_reply(stack: BridgeStack, staff: dict[str, ImClient]) -> None:
    bob, alice = staff["bob"], staff["alice"]
    await command(bob, "follow launch")
    post = await stack.api.post("alice", "Can someone review the launch checklist?", channel="launch")
    [received] = await receive(bob, 1)
    bob.send(channel_jid("launch"), "ack", reply_to_id=received.id, reply_to_jid=received.from_)
    await wait_until(lambda: _thread_length(stack, post["id"]), 5, "bob's 'ack' to become a reply in the launch thread")
    await bob.expect_silence(0.3)  # a post is answered only when refused
    await alice.expect_silence(0.1)


async def _thread_length(stack: BridgeStack, post_id: str) -> bool:
    thread = await stack.api.json("GET", f"/api/v1/posts/{post_id}/thread", "alice")
    return [p["text"] for p in thread[1:]] == ["ack"]


async def test_an_urgent_announcement_reaches_someone_in_dnd(stack: BridgeStack, staff: dict[str, ImClient]) -> None:
    dave = staff["dave"]
    await follow_on_roster(stack, dave, ANNOUNCEMENTS)
    await dave.send_presence("dnd")
    await wait_until(lambda: stack.running.bridge.presence.get(dave.jid) is Presence.DND, 5, "dave's dnd")

    ordinary = await stack.api.post("carol", "Parking lot resurfacing", channel="announcements", requires_ack=True)
    await stack.wait_drained()
    await dave.expect_silence(0.3)  # an ordinary announcement waits until dave is available
    urgent = await stack.api.post(
        "carol", "Water leak: stay out of building B", channel="announcements", requires_ack=True, urgent=True
    )
    [received] = await receive(dave, 1)
    assert received.origin_id == f"post-{urgent['id']}"
    assert received.body == (
        f"URGENT: carol: Water leak: stay out of building B\n{PUBLIC_URL}/posts/{urgent['id']}\n{ACK_HINT}"
    )
    await stack.wait_drained()
    assert f"post-{ordinary['id']}" not in {message.origin_id for message in dave.history}
    # The ordinary one was held, not lost: back from dnd, dave hears about it.
    await dave.send_presence()
    summary = await dave.next_message(timeout=3)
    assert (summary.sender, summary.body) == (BOT, f"While you were away: 1 post held back — {PUBLIC_URL}/")
    await dave.remove_contact(ANNOUNCEMENTS)  # the session Prosody keeps rosters: leave dave's as it was


async def test_a_reminder_reaches_only_those_who_have_not_acknowledged(
    stack: BridgeStack, staff: dict[str, ImClient]
) -> None:
    alice, bob, dave = staff["alice"], staff["bob"], staff["dave"]
    post, [_, for_bob, _] = await _announce(stack, [alice, bob, dave])
    bob.send(ANNOUNCEMENTS, "ack", reply_to_id=for_bob.id, reply_to_jid=for_bob.from_)
    assert (await bob.next_message(timeout=5)).body == f"Acknowledged: {NOTICE}"

    await asyncio.sleep(REMINDER_MINUTES * 60 + 0.05)
    assert await stack.runtime.services.announcements.send_due_reminders() == 2  # alice and dave
    link = f"{PUBLIC_URL}/posts/{post['id']}"
    for client in (alice, dave):
        [reminder] = await receive(client, 1)
        assert reminder.sender == ANNOUNCEMENTS
        # Threaded under the announcement; a client without replies shows the quoted link first.
        assert reminder.body.endswith(f"Reminder: please acknowledge — carol: {NOTICE}\n{link} (reply ack)")
        assert (reminder.origin_id, reminder.reply_to) == (f"reminder-{post['id']}", f"post-{post['id']}")
    await bob.expect_silence(0.5)
    # One round only.
    assert await stack.runtime.services.announcements.send_due_reminders() == 0

    # Answering the reminder itself acknowledges the announcement.
    reminder = dave.messages_from(ANNOUNCEMENTS)[-1]
    dave.send(ANNOUNCEMENTS, "ack", reply_to_id=reminder.id, reply_to_jid=reminder.from_)
    assert (await dave.next_message(timeout=5)).body == f"Acknowledged: {NOTICE}"
    report = await _report(stack, post["id"])
    assert _acknowledged(report) == {"bob": "im", "dave": "im"}
    assert [person.username for person in report.pending] == ["alice"]
    await alice.expect_silence(0.3)
