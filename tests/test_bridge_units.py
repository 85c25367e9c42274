"""The bridge's pure parts, without a server: addresses, the command parser, the error table, presence."""

from __future__ import annotations

import pytest

from bridges.xmpp import commands
from bridges.xmpp.addresses import Addresses, AddressKind, OutsideDomain
from bridges.xmpp.errors import ERROR_TABLE, REFUSAL, error_reply
from bridges.xmpp.inbound import post_id_of_origin
from bridges.xmpp.presence import PresenceBook, presence_of
from intrablog.domain.im import ImTarget, Presence
from intrablog.errors import (
    Conflict,
    FieldError,
    Forbidden,
    IntrablogError,
    Invalid,
    NotFound,
    Unauthenticated,
    Unavailable,
)

ADDRESSES = Addresses("blog.example.com")


# -- addresses ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("jid", "kind", "name"),
    [
        ("blog.example.com", AddressKind.BOT, ""),
        ("blog.example.com/blog", AddressKind.BOT, ""),
        ("Engineering@Blog.Example.com/phone", AddressKind.CHANNEL, "engineering"),
        ("launch@blog.example.com", AddressKind.CHANNEL, "launch"),
        ("~launch@blog.example.com", AddressKind.PERSON, "launch"),  # a user called launch is not the channel
        ("~j.doe@blog.example.com/blog", AddressKind.PERSON, "j.doe"),
        ("x@blog.example.com", AddressKind.UNKNOWN, ""),  # too short for a channel name
        ("-dash@blog.example.com", AddressKind.UNKNOWN, ""),
        ("~@blog.example.com", AddressKind.UNKNOWN, ""),
        ("engineering@example.com", AddressKind.FOREIGN, ""),
        ("blog.example.com.evil", AddressKind.FOREIGN, ""),
    ],
)
def test_parse(jid: str, kind: AddressKind, name: str) -> None:
    address = ADDRESSES.parse(jid)
    assert (address.kind, address.name) == (kind, name)


def test_addresses_round_trip_and_never_collide() -> None:
    assert ADDRESSES.channel_jid("Launch") == "launch@blog.example.com"
    assert ADDRESSES.person_jid("launch") == "~launch@blog.example.com"
    # XEP-0106 escaping keeps a username with a character JIDs forbid addressable.
    odd = ADDRESSES.person_jid("o'neil")
    assert odd == "~o\\27neil@blog.example.com"
    assert ADDRESSES.parse(odd).name == "o'neil"


def test_only_our_domain_may_send() -> None:
    assert ADDRESSES.full("engineering@blog.example.com") == "engineering@blog.example.com/blog"
    assert ADDRESSES.full("blog.example.com") == "blog.example.com/blog"
    for foreign in ("engineering@example.com", "example.com", "evil.blog.example.com", "a@blog.example.com.evil"):
        with pytest.raises(OutsideDomain):
            ADDRESSES.full(foreign)


def test_origin_ids_name_their_post() -> None:
    assert post_id_of_origin("post-123") == 123
    assert post_id_of_origin("dm-123") is None
    assert post_id_of_origin("post-12a") is None


# -- the command parser ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("help", commands.Help()),
        ("  HeLp  ", commands.Help()),
        ("follow Engineering", commands.Follow(ImTarget("channel", "engineering"))),
        ("FOLLOW @Alice", commands.Follow(ImTarget("person", "alice"))),
        ("follow ~alice", commands.Follow(ImTarget("person", "alice"))),
        ("leave launch", commands.Leave(ImTarget("channel", "launch"))),
        ("on", commands.DeliveryOn(None)),
        ("off", commands.DeliveryOff(None)),
        ("off @bob", commands.DeliveryOff(ImTarget("person", "bob"))),
        ("subscriptions", commands.Subscriptions()),
        ("channels", commands.Channels()),
        ("d bob see you at 3", commands.Direct("bob", "see you at 3")),
        ("D @Bob two\nlines", commands.Direct("bob", "two\nlines")),
        ("get @carol", commands.Get(ImTarget("person", "carol"))),
        ("whois @Dave", commands.Whois("dave")),
        ("reply 42 Sure", commands.Reply(42, "Sure")),
        ("reply #42 Sure", commands.Reply(42, "Sure")),
        ("reply post-42 Sure", commands.Reply(42, "Sure")),
        ("fav https://blog.example.com/posts/42", commands.Fav(42)),
        ("track Launch", commands.Track("launch")),
        ("untrack launch", commands.Untrack("launch")),
        ("tracks", commands.Tracks()),
        ("stats", commands.Stats()),
        ("hello there", commands.Unknown("hello there")),
        ("", commands.Unknown("")),
    ],
)
def test_parse_commands(text: str, command: commands.Command) -> None:
    assert commands.parse(text) == command


@pytest.mark.parametrize(
    ("text", "verb"),
    [
        ("follow", "follow"),
        ("follow a b", "follow"),
        ("on a b", "on"),
        ("d bob", "d"),
        ("d", "d"),
        ("reply 42", "reply"),
        ("reply abc text", "reply"),
        ("fav", "fav"),
        ("fav 1 2", "fav"),
        ("track", "track"),
        ("whois", "whois"),
    ],
)
def test_misused_commands_give_their_usage(text: str, verb: str) -> None:
    assert commands.parse(text) == commands.Usage(verb, commands.USAGE[verb][0])


def test_a_bad_target_is_invalid() -> None:
    with pytest.raises(Invalid):
        commands.parse("follow #general")


# -- errors ---------------------------------------------------------------------------------------------


def test_every_error_class_has_one_rule() -> None:
    kinds = [kind for kind, _ in ERROR_TABLE]
    assert set(kinds) == {Invalid, NotFound, Forbidden, Unauthenticated, Conflict, Unavailable}
    assert len(kinds) == len(set(kinds))


@pytest.mark.parametrize(
    ("error", "text", "condition", "etype"),
    [
        (
            Invalid("text", "is 1000 characters; the limit is 280"),
            "Not done: your message is 1000 characters; the limit is 280.",
            "bad-request",
            "modify",
        ),
        (
            Invalid("in_reply_to", "no such post", FieldError("text", "must not be blank")),
            "Not done: no such post; your message must not be blank.",
            "bad-request",
            "modify",
        ),
        (NotFound("no channel named 'x'"), "Not found: no channel named 'x'.", "item-not-found", "cancel"),
        (Forbidden("you may not post in 'a'"), "Not allowed: you may not post in 'a'.", "forbidden", "auth"),
        (Unauthenticated("whatever the reason"), REFUSAL, "not-authorized", "auth"),
        (Conflict("already there"), "Not done: already there.", "conflict", "cancel"),
        (
            Unavailable("the directory does not answer"),
            "intrablog cannot do that right now (nothing was changed): the directory does not answer.",
            "internal-server-error",
            "wait",
        ),
    ],
)
def test_error_replies(error: IntrablogError, text: str, condition: str, etype: str) -> None:
    reply = error_reply(error)
    assert (reply.text, reply.condition, reply.type) == (text, condition, etype)
    stanza_error = reply.stanza_error()
    assert (stanza_error.condition, stanza_error.etype, stanza_error.text) == (condition, etype, text)


def test_an_unexpected_error_reveals_nothing(caplog: pytest.LogCaptureFixture) -> None:
    reply = error_reply(KeyError("secret internals"))
    assert reply.text == "Something went wrong on intrablog's side; please try again later."
    assert "secret" not in reply.text
    assert reply.condition == "internal-server-error"
    assert "unexpected error" in caplog.text


# -- presence -------------------------------------------------------------------------------------------


def test_presence_of_stanzas() -> None:
    assert presence_of("available", "") is Presence.AVAILABLE
    assert presence_of("away", "away") is Presence.AWAY
    assert presence_of("dnd", "dnd") is Presence.DND
    assert presence_of("unavailable", "") is Presence.UNAVAILABLE
    assert presence_of("subscribe", "") is None
    assert presence_of("error", "") is None


def test_the_most_available_resource_wins_and_changes_are_reported() -> None:
    changes: list[tuple[str, Presence, Presence]] = []
    book = PresenceBook(on_change=lambda jid, old, new: changes.append((jid, old, new)))
    via = "engineering@blog.example.com"
    assert book.get("bob@example.com") is Presence.UNAVAILABLE
    book.update("Bob@Example.com/desk", Presence.DND, via)
    book.update("bob@example.com/phone", Presence.AWAY, via)
    assert book.get("bob@example.com") is Presence.AWAY
    book.update("bob@example.com/phone", Presence.UNAVAILABLE, via)
    assert book.get("bob@example.com") is Presence.DND
    book.update("bob@example.com", Presence.UNAVAILABLE, via)  # from the bare JID: every resource gone
    assert book.get("bob@example.com") is Presence.UNAVAILABLE
    assert changes == [
        ("bob@example.com", Presence.UNAVAILABLE, Presence.DND),
        ("bob@example.com", Presence.DND, Presence.AWAY),
        ("bob@example.com", Presence.AWAY, Presence.DND),
        ("bob@example.com", Presence.DND, Presence.UNAVAILABLE),
    ]
    assert book.heard_via() == {"bob@example.com": via}
