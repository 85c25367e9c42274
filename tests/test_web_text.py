"""Post text to HTML, and the time words of the pages: pure functions, no server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from intrablog.web.pages.views import exact_time, relative_time
from intrablog.web.text import excerpt, render_post_text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ("<img src=x onerror=alert(1)>", "&lt;img src=x onerror=alert(1)&gt;"),
        ("javascript:alert(1)", "javascript:alert(1)"),
        ("a & b", "a &amp; b"),
        ('say "hi"', 'say "hi"'),
    ],
)
def test_text_is_escaped_and_nothing_else(text: str, expected: str) -> None:
    assert str(render_post_text(text)) == expected


def test_links_mentions_and_tags() -> None:
    html = str(render_post_text("see https://example.com/a?b=1&c=2. thanks @Bob and @nobody #Launch", ("bob",)))
    assert (
        '<a class="link" href="https://example.com/a?b=1&amp;c=2" rel="nofollow noopener noreferrer">'
        "https://example.com/a?b=1&amp;c=2</a>." in html
    ), "trailing punctuation stays outside the link"
    assert '<a class="mention" href="/users/bob" rel="nofollow noopener noreferrer">@Bob</a>' in html
    assert "@nobody" in html
    assert 'href="/users/nobody"' not in html, "only people intrablog knows are linked"
    assert '<span class="tag">#Launch</span>' in html


def test_a_link_cannot_break_out_of_its_attribute() -> None:
    html = str(render_post_text('http://a.example/"onmouseover=alert(1) x'))
    assert 'href="http://a.example/"' in html
    assert " onmouseover" not in html.split(">", 1)[0], "the quote ends the link, not the attribute"


def test_only_http_links_are_linked() -> None:
    for text in ("javascript://example.com/%0Aalert(1)", "data:text/html,<b>x</b>", "ftp://example.com/f"):
        assert "<a" not in str(render_post_text(text)), text


def test_relative_and_exact_times() -> None:
    now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    assert relative_time(now - timedelta(seconds=10), now) == "just now"
    assert relative_time(now - timedelta(minutes=5), now) == "5 min ago"
    assert relative_time(now - timedelta(hours=3), now) == "3 h ago"
    assert relative_time(now - timedelta(days=2), now) == "2 d ago"
    assert relative_time(datetime(2026, 1, 2, tzinfo=UTC), now) == "2 Jan"
    assert relative_time(datetime(2024, 1, 2, tzinfo=UTC), now) == "2 Jan 2024"
    assert exact_time(now) == "2026-03-10 12:00:00 UTC"


def test_excerpt_is_one_short_line() -> None:
    assert excerpt("one\n\ntwo   three") == "one two three"
    assert excerpt("x" * 100, 10) == "x" * 9 + "…"
