"""Rules of the product: what a valid name or post is, and who may read, post and delete where."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from intrablog.config import CHANNEL_NAME_PATTERN
from intrablog.domain.model import Channel, ChannelKind, Membership, Post, Role, User
from intrablog.errors import Invalid

CHANNEL_NAME = re.compile(CHANNEL_NAME_PATTERN)
MAX_TITLE_CHARS = 100
MAX_DESCRIPTION_CHARS = 1000
MAX_USERNAME_CHARS = 256

_MENTION = re.compile(r"(?<![\w@/])@([a-z0-9][a-z0-9._-]{0,63}[a-z0-9]|[a-z0-9])", re.IGNORECASE)
_TAG = re.compile(r"(?<![\w#&/])#(\w[\w-]{0,63})")
_LINK = re.compile(r"\bhttps?://[^\s<>\"']+", re.IGNORECASE)
_TRAILING_PUNCTUATION = ".,;:!?)]}'\""


def validate_channel_name(name: str) -> str:
    if not CHANNEL_NAME.fullmatch(name):
        raise Invalid(
            "name",
            "must be 2-32 characters of a-z, 0-9 and '-', starting with a letter or digit",
        )
    return name


def clean_title(title: str, field: str = "title") -> str:
    title = unicodedata.normalize("NFC", title).strip()
    if not title:
        raise Invalid(field, "must not be blank")
    if len(title) > MAX_TITLE_CHARS:
        raise Invalid(field, f"must be at most {MAX_TITLE_CHARS} characters")
    return title


def clean_description(description: str) -> str:
    description = unicodedata.normalize("NFC", description).strip()
    if len(description) > MAX_DESCRIPTION_CHARS:
        raise Invalid("description", f"must be at most {MAX_DESCRIPTION_CHARS} characters")
    return description


def clean_post_text(text: str, max_chars: int) -> str:
    """NFC-normalise and check a post's text; length counts Unicode code points."""
    text = unicodedata.normalize("NFC", text).strip()
    if not text:
        raise Invalid("text", "must not be blank")
    if len(text) > max_chars:
        raise Invalid("text", f"is {len(text)} characters; the limit is {max_chars}")
    if any(unicodedata.category(ch) == "Cc" and ch not in "\n\t" for ch in text):
        raise Invalid("text", "must not contain control characters")
    return text


def is_plausible_username(username: str) -> bool:
    """Cheap refusal of what can never be a directory login (checked before any bind)."""
    stripped = username.strip()
    return (
        bool(stripped)
        and len(username) <= MAX_USERNAME_CHARS
        and not any(unicodedata.category(ch) in ("Cc", "Cs") for ch in username)
    )


@dataclass(frozen=True)
class ParsedText:
    mentions: tuple[str, ...]
    tags: tuple[str, ...]
    links: tuple[str, ...]


def _unique(values: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


def parse_text(text: str) -> ParsedText:
    """Extract @mentions (lower-cased usernames), #tags (lower-cased) and links, each once, in order."""
    links = [m.group(0).rstrip(_TRAILING_PUNCTUATION) for m in _LINK.finditer(text)]
    without_links = _LINK.sub(" ", text)
    mentions = [m.group(1).lower() for m in _MENTION.finditer(without_links)]
    tags = [m.group(1).lower() for m in _TAG.finditer(without_links)]
    return ParsedText(_unique(mentions), _unique(tags), _unique(links))


# -- authorisation rules: the services call these, once per request, for every door --------------------


def can_read_channel(user: User, channel: Channel, membership: Membership | None) -> bool:
    if not user.active:
        return False
    return not channel.is_private or membership is not None or user.is_site_admin


def can_post_in(user: User, channel: Channel, membership: Membership | None) -> bool:
    if not can_read_channel(user, channel, membership):
        return False
    if channel.kind is ChannelKind.ANNOUNCEMENT:
        return membership is not None and membership.role.at_least(Role.POSTER)
    if channel.is_private:
        return membership is not None
    return True


def can_create_channel(user: User, kind: ChannelKind) -> bool:
    return user.active and (kind is not ChannelKind.ANNOUNCEMENT or user.is_site_admin)


def can_delete_post(user: User, post: Post, membership: Membership | None) -> bool:
    if not user.active:
        return False
    if post.author_id == user.id or user.is_site_admin:
        return True
    return membership is not None and membership.role.at_least(Role.ADMIN)


def can_leave_channel(channel: Channel) -> bool:
    return channel.kind is not ChannelKind.ANNOUNCEMENT


def can_see_ack_report(user: User, post: Post, membership: Membership | None) -> bool:
    """Who acknowledged an announcement is for its author, the channel's posters and admins, site admins."""
    if not user.active:
        return False
    if post.author_id == user.id or user.is_site_admin:
        return True
    return membership is not None and membership.role.at_least(Role.POSTER)
