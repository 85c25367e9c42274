"""The bot's command language: text → one command. Pure (no I/O), so every spelling is unit-testable.

Verbs are case-insensitive, and so are channel names, usernames and tracked words (all are lower case in
intrablog); the text of a direct message or a reply keeps its case. A known verb with missing or malformed
arguments gives ``Usage`` (the answer shows the right form); anything else gives ``Unknown`` (the answer
points to ``help``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from intrablog.domain.im import ImTarget, parse_target


@dataclass(frozen=True)
class Help:
    pass


@dataclass(frozen=True)
class Follow:
    target: ImTarget


@dataclass(frozen=True)
class Leave:
    target: ImTarget


@dataclass(frozen=True)
class DeliveryOn:
    target: ImTarget | None  # None: IM delivery as a whole


@dataclass(frozen=True)
class DeliveryOff:
    target: ImTarget | None


@dataclass(frozen=True)
class Subscriptions:
    pass


@dataclass(frozen=True)
class Channels:
    pass


@dataclass(frozen=True)
class Direct:
    username: str
    text: str


@dataclass(frozen=True)
class Get:
    target: ImTarget


@dataclass(frozen=True)
class Whois:
    username: str


@dataclass(frozen=True)
class Reply:
    post_id: int
    text: str


@dataclass(frozen=True)
class Fav:
    post_id: int


@dataclass(frozen=True)
class Ack:
    post_id: int | None  # None: the newest announcement still waiting for the sender's acknowledgement


@dataclass(frozen=True)
class Track:
    word: str


@dataclass(frozen=True)
class Untrack:
    word: str


@dataclass(frozen=True)
class Tracks:
    pass


@dataclass(frozen=True)
class Stats:
    pass


@dataclass(frozen=True)
class Usage:
    """A known verb used the wrong way."""

    verb: str
    usage: str


@dataclass(frozen=True)
class Unknown:
    text: str


Command = (
    Help
    | Follow
    | Leave
    | DeliveryOn
    | DeliveryOff
    | Subscriptions
    | Channels
    | Direct
    | Get
    | Whois
    | Reply
    | Fav
    | Ack
    | Track
    | Untrack
    | Tracks
    | Stats
    | Usage
    | Unknown
)

# verb → (how to write it, what it does); the help text is built from this, in this order.
USAGE: dict[str, tuple[str, str]] = {
    "help": ("help", "this list"),
    "follow": ("follow <channel|@user>", "follow a channel or a person, with IM delivery on"),
    "leave": ("leave <channel|@user>", "stop following"),
    "on": ("on [channel|@user]", "IM delivery on, for everything or for one subscription"),
    "off": ("off [channel|@user]", "IM delivery off, without unfollowing"),
    "subscriptions": ("subscriptions", "what you follow, and where IM delivery is on"),
    "channels": ("channels", "the channels you can see"),
    "d": ("d <user> <text>", "a direct message"),
    "get": ("get <channel|@user>", "the latest post"),
    "whois": ("whois <user>", "who someone is"),
    "reply": ("reply <post id> <text>", "reply to a post, in its thread"),
    "fav": ("fav <post id>", "mark a post as a favourite"),
    "ack": ("ack [post id]", "acknowledge an announcement; alone, the newest one waiting for you"),
    "track": ("track <word>", "receive every post you can see that contains the word"),
    "untrack": ("untrack <word>", "stop tracking a word"),
    "tracks": ("tracks", "the words you track"),
    "stats": ("stats", "your numbers"),
}

# A post id as people copy it: 123, #123, post-123 (the origin-id) or a post's link (.../posts/123).
_POST_ID = re.compile(r"^(?:#|post-|\S*/posts/)?(\d{1,19})$", re.IGNORECASE)
_USERNAME = re.compile(r"^[@~]?(\S+)$")


def post_id_of(text: str) -> int | None:
    match = _POST_ID.fullmatch(text.strip())
    return int(match.group(1)) if match else None


def _username(text: str) -> str | None:
    match = _USERNAME.fullmatch(text.strip())
    return match.group(1).lower() if match else None


def _target(text: str) -> ImTarget:
    return parse_target(text.strip().lower())


_HEAD_AND_REST = re.compile(r"\s*(\S+)\s*(.*?)\s*", re.DOTALL)


def _split(text: str) -> tuple[str, str]:
    """The first word and the rest; the rest keeps its line breaks (a direct message may have several)."""
    match = _HEAD_AND_REST.fullmatch(text)
    return (match.group(1), match.group(2)) if match else ("", "")


def parse(text: str) -> Command:
    """The command ``text`` (a chat message to the bot) stands for."""
    verb, rest = _split(text)
    verb = verb.lower()
    if verb not in USAGE:
        return Unknown(text.strip())
    usage = Usage(verb, USAGE[verb][0])
    single_word = len(rest.split()) == 1
    match verb:
        case "help":
            return Help()
        case "subscriptions":
            return Subscriptions()
        case "channels":
            return Channels()
        case "tracks":
            return Tracks()
        case "stats":
            return Stats()
        case "follow" | "leave" | "get" if single_word:
            target = _target(rest)
            return Follow(target) if verb == "follow" else Leave(target) if verb == "leave" else Get(target)
        case "on" | "off" if not rest or single_word:
            optional = _target(rest) if rest else None
            return DeliveryOn(optional) if verb == "on" else DeliveryOff(optional)
        case "whois" if single_word and (username := _username(rest)):
            return Whois(username)
        case "track" | "untrack" if single_word:
            word = rest.lower()
            return Track(word) if verb == "track" else Untrack(word)
        case "d":
            who, message = _split(rest)
            username = _username(who) if who else None
            if username and message:
                return Direct(username, message)
        case "reply":
            which, message = _split(rest)
            post_id = post_id_of(which)
            if post_id is not None and message:
                return Reply(post_id, message)
        case "fav" if single_word and (post_id := post_id_of(rest)) is not None:
            return Fav(post_id)
        case "ack" if not rest:
            return Ack(None)
        case "ack" if single_word and (post_id := post_id_of(rest)) is not None:
            return Ack(post_id)
    return usage
