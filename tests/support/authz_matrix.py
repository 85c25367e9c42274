"""The authorisation matrix of the JSON API (issue 6, item 5), as data: for every route of the OpenAPI
document, every actor and every kind of channel the route touches, the class of answer the API gives.

A row lists the outcomes in ``ACTORS`` order — anonymous, deactivated, non_member, member, poster,
channel_admin, site_admin — "ok" for any 2xx, otherwise the status. A route that touches no channel has one
row (key ``None``); a route that does has one row per kind of channel: the channel it names, the channel of
the post it names, or (creating a channel) the kind created. Whoever may not read a private channel gets
404, exactly as for a channel that does not exist. The world the rows speak of is ``authz_world``: the
poster wrote each channel's post; the site admin belongs to none of the channels; everyone is a member of
an announcement channel, so there the non-member is a member like the others.

Each route also has a request factory that sends a valid request for the case (fresh targets where the
request changes who belongs to what). ``route_coverage`` compares a served OpenAPI document with the keys,
so a route added without an entry fails the matrix test.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol, cast, get_args

from tests.support.authz_world import ACTORS, KINDS, Actor, Kind

Outcome = Literal["ok", "401", "403", "404", "409", "422"]
RouteKey = tuple[str, str]  # (METHOD, path template as the OpenAPI document writes it)
Rows = dict[Kind | None, dict[Actor, Outcome]]
_OUTCOMES: frozenset[str] = frozenset(get_args(Outcome))
_METHODS = frozenset({"get", "put", "post", "delete", "patch"})


class Targets(Protocol):
    """What a request factory may ask of the world (implemented by ``authz_world.AuthzWorld``)."""

    bystander: str

    def username(self, actor: Actor) -> str: ...
    def channel(self, kind: Kind) -> str: ...
    def post(self, kind: Kind) -> str: ...
    def fresh_name(self) -> str: ...
    async def fresh_channel(self, kind: Kind) -> str: ...
    async def fresh_post(self, kind: Kind) -> str: ...
    async def fresh_binding(self, kind: Kind) -> tuple[str, str]: ...
    async def fresh_token(self, actor: Actor) -> str | None: ...


@dataclass(frozen=True)
class Call:
    """One request: its path, its JSON body, and credentials other than the actor's own when set."""

    path: str
    body: dict[str, Any] | None = None
    token: str | None = None


Factory = Callable[[Targets, Actor, Kind | None], Awaitable[Call]]


@dataclass(frozen=True)
class Entry:
    rows: Rows
    call: Factory
    # Cases of this route take fresh channels (their requests change memberships): how many to seed.
    fresh_channels: bool = False


def row(spec: str) -> dict[Actor, Outcome]:
    outcomes = spec.split()
    if len(outcomes) != len(ACTORS) or not set(outcomes) <= _OUTCOMES:
        raise ValueError(f"a row is {len(ACTORS)} of {sorted(_OUTCOMES)}: {spec!r}")
    return {actor: cast(Outcome, outcome) for actor, outcome in zip(ACTORS, outcomes, strict=True)}


def one(spec: str) -> Rows:
    return {None: row(spec)}


def per_kind(public: str, private: str, announcement: str) -> Rows:
    return {"public": row(public), "private": row(private), "announcement": row(announcement)}


EVERYONE = "ok ok ok ok ok ok ok"
SIGNED_IN = "401 401 ok ok ok ok ok"
READERS_OF_PRIVATE = "401 401 404 ok ok ok ok"
SITE_ADMIN_ONLY = "401 401 403 403 403 403 ok"
# Reading a channel, or a post by its id: private ones are their members' (and site admins').
READ = per_kind(SIGNED_IN, READERS_OF_PRIVATE, SIGNED_IN)
# Who acknowledged: for the post's author, its channel's posters and admins, and site admins (403 for other
# readers) — and only for a post that asks for acknowledgement (409 for the others, once the right is there).
ACK_REPORT = per_kind("401 401 403 403 409 409 409", "401 401 404 403 409 409 409", "401 401 403 403 ok ok ok")


def _kind(kind: Kind | None) -> Kind:
    if kind is None:
        raise AssertionError("this route touches a channel: its rows are per kind")
    return kind


def fixed(path: str) -> Factory:
    async def call(t: Targets, actor: Actor, kind: Kind | None) -> Call:
        return Call(path)

    return call


def on_channel(template: str, *, fresh: bool = False) -> Factory:
    async def call(t: Targets, actor: Actor, kind: Kind | None) -> Call:
        name = await t.fresh_channel(_kind(kind)) if fresh else t.channel(_kind(kind))
        return Call(template.format(name=name))

    return call


def on_post(template: str, *, fresh: bool = False) -> Factory:
    async def call(t: Targets, actor: Actor, kind: Kind | None) -> Call:
        post_id = await t.fresh_post(_kind(kind)) if fresh else t.post(_kind(kind))
        return Call(template.format(id=post_id))

    return call


def on_person(template: str, who: Literal["bystander", "poster"]) -> Factory:
    async def call(t: Targets, actor: Actor, kind: Kind | None) -> Call:
        return Call(template.format(username=t.bystander if who == "bystander" else t.username("poster")))

    return call


async def _login(t: Targets, actor: Actor, kind: Kind | None) -> Call:
    # Everyone signs in as themselves: the deactivated person is gone from the directory, nobody never was.
    username = t.username(actor)
    return Call("/api/v1/login", {"username": username, "password": f"{username}-pass"})


async def _logout(t: Targets, actor: Actor, kind: Kind | None) -> Call:
    # A session of its own, so the actor's other cases keep theirs; without one, the actor's own credentials.
    return Call("/api/v1/logout", token=await t.fresh_token(actor))


async def _create_channel(t: Targets, actor: Actor, kind: Kind | None) -> Call:
    kind = _kind(kind)
    return Call(
        "/api/v1/channels",
        {
            "name": t.fresh_name(),
            "title": f"New {kind} channel",
            "kind": "announcement" if kind == "announcement" else "team",
            "visibility": "private" if kind == "private" else "public",
        },
    )


async def _bind(t: Targets, actor: Actor, kind: Kind | None) -> Call:
    return Call(f"/api/v1/channels/{t.channel(_kind(kind))}/groups", {"group": t.fresh_name(), "role": "member"})


async def _unbind(t: Targets, actor: Actor, kind: Kind | None) -> Call:
    channel, group = await t.fresh_binding(_kind(kind))
    return Call(f"/api/v1/channels/{channel}/groups/{group}")


async def _create_post(t: Targets, actor: Actor, kind: Kind | None) -> Call:
    return Call("/api/v1/posts", {"text": f"{actor} was here", "channel": t.channel(_kind(kind))})


ROUTES: dict[RouteKey, Entry] = {
    # -- session and system ------------------------------------------------------------------------------
    ("POST", "/api/v1/login"): Entry(one(SIGNED_IN), _login),
    ("POST", "/api/v1/logout"): Entry(one(SIGNED_IN), _logout),
    ("GET", "/api/v1/me"): Entry(one(SIGNED_IN), fixed("/api/v1/me")),
    ("GET", "/healthz"): Entry(one(EVERYONE), fixed("/healthz")),
    ("GET", "/api/v1/openapi.json"): Entry(one(EVERYONE), fixed("/api/v1/openapi.json")),
    # -- channels ------------------------------------------------------------------------------------------
    ("GET", "/api/v1/channels"): Entry(one(SIGNED_IN), fixed("/api/v1/channels")),
    # Rows: the kind of channel created. Announcement channels are the site admins' to create.
    ("POST", "/api/v1/channels"): Entry(per_kind(SIGNED_IN, SIGNED_IN, SITE_ADMIN_ONLY), _create_channel),
    ("GET", "/api/v1/channels/{name}"): Entry(READ, on_channel("/api/v1/channels/{name}")),
    ("GET", "/api/v1/channels/{name}/members"): Entry(READ, on_channel("/api/v1/channels/{name}/members")),
    ("POST", "/api/v1/channels/{name}/follow"): Entry(
        READ, on_channel("/api/v1/channels/{name}/follow", fresh=True), fresh_channels=True
    ),
    # Nobody leaves an announcement channel.
    ("DELETE", "/api/v1/channels/{name}/follow"): Entry(
        per_kind(SIGNED_IN, READERS_OF_PRIVATE, "401 401 403 403 403 403 403"),
        on_channel("/api/v1/channels/{name}/follow", fresh=True),
        fresh_channels=True,
    ),
    ("GET", "/api/v1/channels/{name}/groups"): Entry(READ, on_channel("/api/v1/channels/{name}/groups")),
    # Site admins only, checked before the channel is looked up: a 403 tells nothing about a private one.
    ("POST", "/api/v1/channels/{name}/groups"): Entry(
        per_kind(SITE_ADMIN_ONLY, SITE_ADMIN_ONLY, SITE_ADMIN_ONLY), _bind
    ),
    ("DELETE", "/api/v1/channels/{name}/groups/{group}"): Entry(
        per_kind(SITE_ADMIN_ONLY, SITE_ADMIN_ONLY, SITE_ADMIN_ONLY), _unbind
    ),
    # -- posts ---------------------------------------------------------------------------------------------
    # Anyone posts in a public channel; members in a private one (a site admin reads it but is no member);
    # posters and admins of an announcement channel only.
    ("POST", "/api/v1/posts"): Entry(
        per_kind(SIGNED_IN, "401 401 404 ok ok ok 403", "401 401 403 403 ok ok 403"), _create_post
    ),
    ("GET", "/api/v1/posts/{id}"): Entry(READ, on_post("/api/v1/posts/{id}")),
    ("GET", "/api/v1/posts/{id}/thread"): Entry(READ, on_post("/api/v1/posts/{id}/thread")),
    # The author (the poster), the channel's admins and site admins delete.
    ("DELETE", "/api/v1/posts/{id}"): Entry(
        per_kind("401 401 403 403 ok ok ok", "401 401 404 403 ok ok ok", "401 401 403 403 ok ok ok"),
        on_post("/api/v1/posts/{id}", fresh=True),
    ),
    # -- timelines and people --------------------------------------------------------------------------------
    ("GET", "/api/v1/timeline/home"): Entry(one(SIGNED_IN), fixed("/api/v1/timeline/home")),
    ("GET", "/api/v1/timeline/mentions"): Entry(one(SIGNED_IN), fixed("/api/v1/timeline/mentions")),
    ("GET", "/api/v1/channels/{name}/posts"): Entry(READ, on_channel("/api/v1/channels/{name}/posts")),
    ("GET", "/api/v1/users/{username}/posts"): Entry(
        one(SIGNED_IN), on_person("/api/v1/users/{username}/posts", "poster")
    ),
    ("GET", "/api/v1/users/{username}"): Entry(one(SIGNED_IN), on_person("/api/v1/users/{username}", "bystander")),
    ("POST", "/api/v1/users/{username}/follow"): Entry(
        one(SIGNED_IN), on_person("/api/v1/users/{username}/follow", "bystander")
    ),
    ("DELETE", "/api/v1/users/{username}/follow"): Entry(
        one(SIGNED_IN), on_person("/api/v1/users/{username}/follow", "bystander")
    ),
    # -- announcements: only the announcement's post asks for acknowledgement ---------------------------------
    # Whoever may read it acknowledges, but not its author; a post that asks for nothing is a conflict.
    ("POST", "/api/v1/posts/{id}/ack"): Entry(
        per_kind("401 401 409 409 409 409 409", "401 401 404 409 409 409 409", "401 401 ok ok 409 ok ok"),
        on_post("/api/v1/posts/{id}/ack"),
    ),
    # The report: the author, the channel's posters and admins, site admins; other readers 403.
    ("GET", "/api/v1/posts/{id}/acks"): Entry(ACK_REPORT, on_post("/api/v1/posts/{id}/acks")),
    ("GET", "/api/v1/posts/{id}/acks.csv"): Entry(ACK_REPORT, on_post("/api/v1/posts/{id}/acks.csv")),
    ("GET", "/api/v1/me/acknowledgements/pending"): Entry(one(SIGNED_IN), fixed("/api/v1/me/acknowledgements/pending")),
    # -- administration ------------------------------------------------------------------------------------
    ("GET", "/api/v1/admin/audit"): Entry(one(SITE_ADMIN_ONLY), fixed("/api/v1/admin/audit")),
}


def fresh_channels_needed(entries: Mapping[Any, Entry]) -> int:
    """Spare channels of each kind the world must seed for these entries: one per case that takes one."""
    return sum(len(ACTORS) for entry in entries.values() if entry.fresh_channels)


def documented_routes(document: Mapping[str, Any]) -> set[RouteKey]:
    return {(method.upper(), path) for path, item in document["paths"].items() for method in item if method in _METHODS}


@dataclass(frozen=True)
class Coverage:
    missing: list[RouteKey]  # documented, without an entry
    extra: list[RouteKey]  # an entry, not documented


def route_coverage(document: Mapping[str, Any], entries: Mapping[RouteKey, Entry] = ROUTES) -> Coverage:
    documented = documented_routes(document)
    return Coverage(missing=sorted(documented - set(entries)), extra=sorted(set(entries) - documented))


def assert_every_route_has_an_entry(document: Mapping[str, Any], entries: Mapping[RouteKey, Entry] = ROUTES) -> None:
    coverage = route_coverage(document, entries)
    if coverage.missing or coverage.extra:
        raise AssertionError(
            "the authorisation matrix (tests/support/authz_matrix.py) and the OpenAPI document differ: "
            f"routes without an entry {coverage.missing}; entries without a route {coverage.extra}"
        )


def cases(entries: Mapping[RouteKey, Entry] = ROUTES) -> list[tuple[RouteKey, Actor, Kind | None, Outcome]]:
    """Every (route, actor, kind, expected outcome), in a stable order."""
    found = []
    for key, entry in entries.items():
        for kind in (None, *KINDS):
            if kind in entry.rows:
                found += [(key, actor, kind, entry.rows[kind][actor]) for actor in ACTORS]
    return found
