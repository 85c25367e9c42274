"""Post text → safe HTML: every character is escaped, then links and @mentions become anchors, #tags marked.

Nothing the author wrote is ever interpreted as HTML: the text is cut into plain runs and recognised
tokens, each plain run is escaped, and only anchors this module builds are emitted. As a second line of
defence the result goes through nh3 (ammonia) with an allow-list of exactly those anchors, so a bug here
still cannot put a script, an event handler or a ``javascript:`` URL on the page.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import quote

import nh3
from markupsafe import Markup, escape

# The domain's own patterns (private there, shared on purpose): what is linked here is exactly what the
# services parsed and stored as mentions, tags and links.
from intrablog.domain.rules import _LINK, _MENTION, _TAG, _TRAILING_PUNCTUATION

_ALLOWED_TAGS = {"a", "span"}
_ALLOWED_ATTRIBUTES = {"a": {"href", "class"}, "span": {"class"}}
_URL_SCHEMES = {"http", "https"}
_LINK_REL = "nofollow noopener noreferrer"


def _tokens(text: str, mentions: frozenset[str]) -> Iterator[str]:
    """Escaped HTML pieces: plain runs escaped, links and known mentions as anchors, tags marked."""
    position = 0
    for match in _LINK.finditer(text):
        url = match.group(0).rstrip(_TRAILING_PUNCTUATION)
        yield from _words(text[position : match.start()], mentions)
        yield f'<a class="link" href="{escape(url)}">{escape(url)}</a>'
        position = match.start() + len(url)
    yield from _words(text[position:], mentions)


def _words(run: str, mentions: frozenset[str]) -> Iterator[str]:
    """A run without links: mentions of people who exist become anchors, #tags are marked, the rest escaped."""
    found: list[tuple[int, int, str]] = []
    for match in _MENTION.finditer(run):
        username = match.group(1).lower()
        if username in mentions:
            href = f"/users/{quote(username, safe='')}"
            found.append((match.start(), match.end(), f'<a class="mention" href="{href}">{escape(match.group(0))}</a>'))
    for match in _TAG.finditer(run):
        # Marked, not linked: there is no tag listing to link to until search exists (then: an anchor here).
        found.append((match.start(), match.end(), f'<span class="tag">{escape(match.group(0))}</span>'))
    position = 0
    for start, end, anchor in sorted(found):
        if start < position:  # overlapping matches cannot happen with these patterns; keep the first anyway
            continue
        yield str(escape(run[position:start]))
        yield anchor
        position = end
    yield str(escape(run[position:]))


def render_post_text(text: str, mentions: tuple[str, ...] = ()) -> Markup:
    """Safe HTML for a post's text. ``mentions`` are the stored ones (usernames that exist): only they link."""
    built = "".join(_tokens(text, frozenset(mentions)))
    cleaned = nh3.clean(
        built,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes=_URL_SCHEMES,
        link_rel=_LINK_REL,
        strip_comments=True,
    )
    return Markup(cleaned)  # noqa: S704 - built from escaped runs and our own anchors, then sanitised by nh3


_WHITESPACE = re.compile(r"\s+")


def excerpt(text: str, limit: int = 80) -> str:
    """A one-line plain-text preview (for reply context and titles); the template escapes it."""
    flat = _WHITESPACE.sub(" ", text).strip()
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"
