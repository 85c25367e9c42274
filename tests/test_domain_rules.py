"""Pure domain rules: names, post text, parsing, time-sortable ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from intrablog.domain import rules
from intrablog.domain.ids import IdGenerator, id_time, parse_id
from intrablog.errors import Invalid


@pytest.mark.parametrize("name", ["engineering", "launch-2026", "a1", "0day", "x" * 32])
def test_valid_channel_names(name: str) -> None:
    assert rules.validate_channel_name(name) == name


@pytest.mark.parametrize("name", ["", "a", "-lead", "Upper", "has space", "x" * 33, "émile", "a_b", "~alice", "a@b"])
def test_invalid_channel_names(name: str) -> None:
    with pytest.raises(Invalid) as caught:
        rules.validate_channel_name(name)
    assert caught.value.errors[0].field == "name"


def test_post_text_counts_code_points_after_nfc() -> None:
    assert rules.clean_post_text("e\u0301" * 280, 280) == "\u00e9" * 280
    with pytest.raises(Invalid, match="281 characters; the limit is 280"):
        rules.clean_post_text("x" * 281, 280)
    assert rules.clean_post_text("  padded  ", 280) == "padded"
    for blank in ("", "   ", "\n\t"):
        with pytest.raises(Invalid, match="blank"):
            rules.clean_post_text(blank, 280)
    with pytest.raises(Invalid, match="control"):
        rules.clean_post_text("bell\x07", 280)


def test_parse_text_finds_mentions_tags_and_links_once_each() -> None:
    parsed = rules.parse_text(
        "@Bob and @carol.c: ship #Launch #launch now, see https://intranet.example/a#b. mail x@y.z @bob"
    )
    assert parsed.mentions == ("bob", "carol.c")
    assert parsed.tags == ("launch",)
    assert parsed.links == ("https://intranet.example/a#b",)


def test_usernames_that_can_never_log_in() -> None:
    assert rules.is_plausible_username("alice")
    for bad in ("", "  ", "a\x00b", "x" * 257, "\ud800"):
        assert not rules.is_plausible_username(bad)


@given(st.lists(st.integers(min_value=0, max_value=10_000), min_size=2, max_size=200))
def test_ids_increase_with_time_and_within_a_millisecond(offsets_ms: list[int]) -> None:
    generator = IdGenerator(node=7)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    times = [start + timedelta(milliseconds=o) for o in sorted(offsets_ms)]
    ids = [generator.next_id(t) for t in times]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert id_time(ids[0]) == times[0]


def test_ids_never_go_back_when_the_clock_does() -> None:
    generator = IdGenerator()
    now = datetime(2026, 5, 1, tzinfo=UTC)
    first = generator.next_id(now)
    assert generator.next_id(now - timedelta(seconds=5)) > first


@pytest.mark.parametrize("text", ["", "abc", "-1", "0", "١٢٣", "9" * 20, "12 3"])
def test_parse_id_rejects_what_is_no_id(text: str) -> None:
    assert parse_id(text) is None


def test_parse_id_round_trip() -> None:
    post_id = IdGenerator().next_id(datetime.now(UTC))
    assert parse_id(str(post_id)) == post_id
