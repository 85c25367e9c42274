"""IM rules without I/O: targets, bare JIDs, tracked words, the audience of a post, reason strength."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import combinations

import pytest

from intrablog.domain.im import (
    MAX_TRACKED_WORD_CHARS,
    REASONS_STRONGEST_FIRST,
    DeliveryReason,
    ImTarget,
    bare_jid,
    clean_tracked_word,
    parse_target,
    post_audience,
    strongest,
    words_in,
)
from intrablog.domain.model import AuthorView, Channel, ChannelKind, Post, Visibility
from intrablog.errors import Invalid

NOW = datetime(2025, 3, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@bob", ImTarget("person", "bob")),
        ("~Bob", ImTarget("person", "bob")),
        ("  @carol  ", ImTarget("person", "carol")),
        ("engineering", ImTarget("channel", "engineering")),
        ("Engineering", ImTarget("channel", "engineering")),
        ("q3-launch", ImTarget("channel", "q3-launch")),
    ],
)
def test_parse_target(text: str, expected: ImTarget) -> None:
    assert parse_target(text) == expected


@pytest.mark.parametrize("text", ["", "   ", "@", "~", "@@bob", "@bo b", "x", "-dash", "two words", "ch@nnel", "é"])
def test_parse_target_refuses(text: str) -> None:
    with pytest.raises(Invalid) as raised:
        parse_target(text)
    assert raised.value.errors[0].field == "target"


def test_bare_jid_drops_the_resource_and_case() -> None:
    assert bare_jid("Alice@Example.COM/Phone/with/slashes") == "alice@example.com"
    assert bare_jid(" bob@example.com ") == "bob@example.com"
    assert bare_jid("") == ""


def test_tracked_words_are_cleaned() -> None:
    assert clean_tracked_word("  Deploy ") == "deploy"
    assert clean_tracked_word("NODE.JS") == "node.js"
    # NFC: a decomposed "é" and a composed one are the same word.
    assert clean_tracked_word("cafe\u0301") == clean_tracked_word("café") == "café"
    for bad in ("a", "x" * (MAX_TRACKED_WORD_CHARS + 1), "two words", "tab\tbed", "bell\x07"):
        with pytest.raises(Invalid) as raised:
            clean_tracked_word(bad)
        assert raised.value.errors[0].field == "word"


@pytest.mark.parametrize(
    ("text", "word", "occurs"),
    [
        ("Deploy at 5", "deploy", True),
        ("#deploy done", "deploy", True),
        ("we re-deploy now", "deploy", True),
        ("(deploy),", "deploy", True),
        ("Deploying now", "deploy", False),
        ("redeploy", "deploy", False),
        ("We moved to Node.js!", "node.js", True),
        ("We moved to (node.js).", "node.js", True),
        ("node.json is a file", "node.js", False),
        ("I like C++.", "c++", True),
        ("Café ouvert", "café", True),
        ("Cafe\u0301 ouvert", "café", True),
    ],
)
def test_whole_words_of_a_post(text: str, word: str, occurs: bool) -> None:
    assert (clean_tracked_word(word) in words_in(text)) is occurs


def test_strongest_follows_the_published_order() -> None:
    assert REASONS_STRONGEST_FIRST[0] is DeliveryReason.URGENT
    assert set(REASONS_STRONGEST_FIRST) == set(DeliveryReason)
    for size in (1, 2, 3):
        for reasons in combinations(list(DeliveryReason), size):
            best = strongest(set(reasons))
            assert all(REASONS_STRONGEST_FIRST.index(best) <= REASONS_STRONGEST_FIRST.index(r) for r in reasons)


def _post(channel: Channel | None) -> Post:
    return Post(
        id=42,
        author_id=7,
        author=AuthorView("alice", "Alice"),
        channel_id=channel.id if channel else None,
        channel_name=channel.name if channel else None,
        text="Ship it #now",
        in_reply_to=None,
        thread_root=42,
        created_at=NOW,
        edited_at=None,
        deleted_at=None,
    )


def _channel(kind: ChannelKind, visibility: Visibility) -> Channel:
    return Channel(3, "c", "C", "", kind, visibility, NOW, None)


def test_post_audience() -> None:
    personal = post_audience(_post(None), None)
    assert (personal.origin_id, personal.channel_id, personal.announcement, personal.members_only) == (
        "post-42",
        None,
        False,
        False,
    )
    assert {"ship", "it", "now"} <= personal.words
    private = _channel(ChannelKind.TEAM, Visibility.PRIVATE)
    assert post_audience(_post(private), private).members_only
    announcement = _channel(ChannelKind.ANNOUNCEMENT, Visibility.PUBLIC)
    audience = post_audience(_post(announcement), announcement)
    assert audience.announcement
    assert not audience.members_only
