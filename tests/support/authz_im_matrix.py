"""The authorisation matrix of IM (issue 6, item 5), as data: every bot command of bridges/xmpp/commands.py
and every other door of the bridge (a message to a channel or a person address), for every actor, on public,
private and announcement channels where the command names one, and the class of answer the bridge gives.

Rows list the outcomes in ``ACTORS`` order, as in ``authz_matrix`` (the world is ``authz_world``; on IM
"anonymous" is an XMPP account intrablog does not know):

- ``ok``: done — the bot's ordinary answer, or the receipt of a message posted or sent;
- ``refused``: the polite refusal of an unknown or deactivated address (told once a minute per address,
  then ignored; either way nothing is done);
- ``not_found``, ``forbidden``, ``not_done``: the answers "Not found: ...", "Not allowed: ..." and
  "Not done: ..." (invalid input, or a conflict such as acknowledging a post that asks for nothing).

A private channel, or a post in one, is "not found" to whoever may not read it, as if it did not exist.
``missing_commands`` names the command classes without an entry, so a new command fails the IM matrix test.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol, cast, get_args

from bridges.xmpp import commands
from tests.support.authz_world import ACTORS, KINDS, Actor, Kind

ImOutcome = Literal["ok", "refused", "not_found", "forbidden", "not_done"]
ImRows = dict[Kind | None, dict[Actor, ImOutcome]]
_OUTCOMES: frozenset[str] = frozenset(get_args(ImOutcome))


class ImTargets(Protocol):
    """What a message factory may ask of the world (implemented by ``authz_world.AuthzWorld``)."""

    bystander: str

    def channel(self, kind: Kind) -> str: ...
    def post(self, kind: Kind) -> str: ...
    async def fresh_channel(self, kind: Kind) -> str: ...


@dataclass(frozen=True)
class ImMessage:
    """A chat message to the bot, to channel ``name`` or to person ``name``."""

    to: Literal["bot", "channel", "person"]
    text: str
    name: str = ""


MessageFactory = Callable[[ImTargets, Kind | None], Awaitable[ImMessage]]


@dataclass(frozen=True)
class ImEntry:
    rows: ImRows
    message: MessageFactory
    # Cases of this command take fresh channels (they change memberships): how many to seed.
    fresh_channels: bool = False


def row(spec: str) -> dict[Actor, ImOutcome]:
    outcomes = spec.split()
    if len(outcomes) != len(ACTORS) or not set(outcomes) <= _OUTCOMES:
        raise ValueError(f"a row is {len(ACTORS)} of {sorted(_OUTCOMES)}: {spec!r}")
    return {actor: cast(ImOutcome, outcome) for actor, outcome in zip(ACTORS, outcomes, strict=True)}


def one(spec: str) -> ImRows:
    return {None: row(spec)}


def per_kind(public: str, private: str, announcement: str) -> ImRows:
    return {"public": row(public), "private": row(private), "announcement": row(announcement)}


SIGNED_IN = "refused refused ok ok ok ok ok"
READERS_OF_PRIVATE = "refused refused not_found ok ok ok ok"
READ = per_kind(SIGNED_IN, READERS_OF_PRIVATE, SIGNED_IN)
# Posting or replying: anyone in a public channel; members in a private one (the site admin reads it but is
# no member); posters and admins in an announcement channel. Replying to a post one cannot read is "no
# such post" (not done), exactly as for a post that does not exist.
POST = per_kind(
    SIGNED_IN, "refused refused not_found ok ok ok forbidden", "refused refused forbidden forbidden ok ok forbidden"
)
REPLY = per_kind(
    SIGNED_IN, "refused refused not_done ok ok ok forbidden", "refused refused forbidden forbidden ok ok forbidden"
)
# on/off for a channel one does not follow is "follow it first"; bound members follow, the site admin does not.
DELIVERY = per_kind(
    "refused refused not_done ok ok ok not_done", "refused refused not_found ok ok ok not_done", SIGNED_IN
)


def _kind(kind: Kind | None) -> Kind:
    if kind is None:
        raise AssertionError("this command names a channel: its rows are per kind")
    return kind


def to_bot(text: str) -> MessageFactory:
    async def message(t: ImTargets, kind: Kind | None) -> ImMessage:
        return ImMessage("bot", text.format(bystander=t.bystander))

    return message


def about_channel(template: str, *, fresh: bool = False) -> MessageFactory:
    async def message(t: ImTargets, kind: Kind | None) -> ImMessage:
        name = await t.fresh_channel(_kind(kind)) if fresh else t.channel(_kind(kind))
        return ImMessage("bot", template.format(channel=name))

    return message


def about_post(template: str) -> MessageFactory:
    async def message(t: ImTargets, kind: Kind | None) -> ImMessage:
        return ImMessage("bot", template.format(post=t.post(_kind(kind))))

    return message


def at_channel(template: str) -> MessageFactory:
    async def message(t: ImTargets, kind: Kind | None) -> ImMessage:
        return ImMessage("channel", template.format(post=t.post(_kind(kind))), name=t.channel(_kind(kind)))

    return message


async def _to_bystander(t: ImTargets, kind: Kind | None) -> ImMessage:
    return ImMessage("person", "are you coming to the review?", name=t.bystander)


# Commands by their class (what commands.parse returns); the other doors by a description.
IM_MATRIX: dict[type[Any] | str, ImEntry] = {
    commands.Help: ImEntry(one(SIGNED_IN), to_bot("help")),
    commands.Follow: ImEntry(READ, about_channel("follow {channel}", fresh=True), fresh_channels=True),
    # Nobody leaves an announcement channel.
    commands.Leave: ImEntry(
        per_kind(SIGNED_IN, READERS_OF_PRIVATE, "refused refused forbidden forbidden forbidden forbidden forbidden"),
        about_channel("leave {channel}", fresh=True),
        fresh_channels=True,
    ),
    commands.DeliveryOn: ImEntry(DELIVERY, about_channel("on {channel}")),
    commands.DeliveryOff: ImEntry(DELIVERY, about_channel("off {channel}")),
    commands.Subscriptions: ImEntry(one(SIGNED_IN), to_bot("subscriptions")),
    commands.Channels: ImEntry(one(SIGNED_IN), to_bot("channels")),
    commands.Direct: ImEntry(one(SIGNED_IN), to_bot("d {bystander} lunch at noon?")),
    commands.Get: ImEntry(READ, about_channel("get {channel}")),
    commands.Whois: ImEntry(one(SIGNED_IN), to_bot("whois {bystander}")),
    commands.Reply: ImEntry(REPLY, about_post("reply {post} agreed")),
    commands.Fav: ImEntry(READ, about_post("fav {post}")),
    # Only the announcement's post asks for acknowledgement, and not of its author (the poster).
    commands.Ack: ImEntry(
        per_kind(
            "refused refused not_done not_done not_done not_done not_done",
            "refused refused not_found not_done not_done not_done not_done",
            "refused refused ok ok not_done ok ok",
        ),
        about_post("ack {post}"),
    ),
    commands.Track: ImEntry(one(SIGNED_IN), to_bot("track rollout")),
    commands.Untrack: ImEntry(one(SIGNED_IN), to_bot("untrack rollout")),
    commands.Tracks: ImEntry(one(SIGNED_IN), to_bot("tracks")),
    commands.Stats: ImEntry(one(SIGNED_IN), to_bot("stats")),
    commands.Usage: ImEntry(one(SIGNED_IN), to_bot("follow")),
    commands.Unknown: ImEntry(one(SIGNED_IN), to_bot("dance")),
    # -- the other doors ----------------------------------------------------------------------------------
    "a message to a channel address": ImEntry(POST, at_channel("hello from my phone")),
    "a reply by leading post id at a channel address": ImEntry(REPLY, at_channel("@{post} same here")),
    # "ack" alone at an announcement channel: its newest announcement waiting for you (or "nothing waits").
    "ack at an announcement channel address": ImEntry({"announcement": row(SIGNED_IN)}, at_channel("ack")),
    "a message to a person address": ImEntry(one(SIGNED_IN), _to_bystander),
}


def command_classes() -> tuple[type[Any], ...]:
    """Every command ``commands.parse`` can return: the members of the ``Command`` union."""
    return cast(tuple[type[Any], ...], get_args(commands.Command))


def missing_commands(
    classes: tuple[type[Any], ...], entries: Mapping[type[Any] | str, ImEntry] = IM_MATRIX
) -> list[str]:
    return sorted(command.__name__ for command in classes if command not in entries)


def assert_every_command_has_an_entry(
    classes: tuple[type[Any], ...], entries: Mapping[type[Any] | str, ImEntry] = IM_MATRIX
) -> None:
    missing = missing_commands(classes, entries)
    stale = sorted(key.__name__ for key in entries if isinstance(key, type) and key not in classes)
    if missing or stale:
        raise AssertionError(
            "the IM authorisation matrix (tests/support/authz_im_matrix.py) and bridges/xmpp/commands.py "
            f"differ: commands without an entry {missing}; entries for no command {stale}"
        )


def fresh_channels_needed(entries: Mapping[type[Any] | str, ImEntry] = IM_MATRIX) -> int:
    return sum(len(ACTORS) for entry in entries.values() if entry.fresh_channels)


def im_cases(
    entries: Mapping[type[Any] | str, ImEntry] = IM_MATRIX,
) -> list[tuple[str, Actor, Kind | None, ImOutcome, MessageFactory]]:
    """Every (what, actor, kind, expected outcome, message factory), in a stable order."""
    found = []
    for key, entry in entries.items():
        what = key.__name__ if isinstance(key, type) else key
        for kind in (None, *KINDS):
            if kind in entry.rows:
                found += [(what, actor, kind, entry.rows[kind][actor], entry.message) for actor in ACTORS]
    return found
