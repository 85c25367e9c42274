"""The world the authorisation matrices run in: one person per actor, and a public, a private and an
announcement channel, each with a post — all made the way the product makes them.

People and roles come from a real directory: the demo directory plus ``AUTHZ_LDIF`` (loaded into the test's
own slapd), and every channel is bound to three directory groups (members, posters, admins), so the first
sync gives each actor their role everywhere. The deactivated person was a member like the others, signed in,
followed the poster, and was then removed from the directory and deactivated by the next sync.

Cases that change who belongs to what (follow, leave, delete, unbind, sign out) take fresh targets from
here, so the order in which the cases run does not matter.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Literal

from intrablog.config import ChannelSeed
from intrablog.devstack.slapd import Slapd
from intrablog.services.facade import Services
from tests.support.app_fixtures import DEMO_CHANNELS, Api
from tests.support.directory_data import remove_from_groups_then_delete

Actor = Literal["anonymous", "deactivated", "non_member", "member", "poster", "channel_admin", "site_admin"]
Kind = Literal["public", "private", "announcement"]

# The column order of every row of the matrices.
ACTORS: tuple[Actor, ...] = (
    "anonymous",
    "deactivated",
    "non_member",
    "member",
    "poster",
    "channel_admin",
    "site_admin",
)
KINDS: tuple[Kind, ...] = ("public", "private", "announcement")

# Who plays each actor. alice is a site admin through the demo directory's admins group and belongs to none
# of the matrix's channels; "anonymous" has no account (on IM: an XMPP account intrablog does not know).
USERNAMES: dict[Actor, str] = {
    "anonymous": "nobody",
    "deactivated": "dina",
    "non_member": "nora",
    "member": "mike",
    "poster": "paula",
    "channel_admin": "chad",
    "site_admin": "alice",
}
# A colleague no case is about: the target of person routes and direct messages.
BYSTANDER = "bob"
MEMBERS_GROUP, POSTERS_GROUP, ADMINS_GROUP = "authz-members", "authz-posters", "authz-admins"

_BASE = "dc=example,dc=com"


def _person(username: str, name: str) -> str:
    return (
        f"dn: uid={username},ou=people,{_BASE}\nobjectClass: inetOrgPerson\nuid: {username}\ncn: {name}\n"
        f"sn: {name.split()[-1]}\nmail: {username}@example.com\nuserPassword: {username}-pass\n"
    )


def _group(name: str, *usernames: str) -> str:
    members = "".join(f"member: uid={username},ou=people,{_BASE}\n" for username in usernames)
    return f"dn: cn={name},ou=groups,{_BASE}\nobjectClass: groupOfNames\ncn: {name}\n{members}"


AUTHZ_LDIF = "\n".join(
    [
        _person("dina", "Dina Deactivated"),
        _person("nora", "Nora Outsider"),
        _person("mike", "Mike Member"),
        _person("paula", "Paula Poster"),
        _person("chad", "Chad Admin"),
        _group(MEMBERS_GROUP, "mike", "dina"),
        _group(POSTERS_GROUP, "paula"),
        _group(ADMINS_GROUP, "chad"),
    ]
)
# What the IM matrix needs on the XMPP server: the accounts of the people above.
XMPP_ACCOUNTS = tuple((USERNAMES[actor], f"{USERNAMES[actor]}-pass") for actor in ACTORS[1:6])


def _seed(name: str, kind: Kind) -> ChannelSeed:
    return ChannelSeed(
        name=name,
        title=f"Authorisation {kind} {name}",
        kind="announcement" if kind == "announcement" else "team",
        visibility="private" if kind == "private" else "public",
        groups=[MEMBERS_GROUP],
        poster_groups=[POSTERS_GROUP],
        admin_groups=[ADMINS_GROUP],
    )


def main_channel(kind: Kind) -> str:
    return f"authz-{kind[:3]}"


def fresh_channel_name(kind: Kind, number: int) -> str:
    return f"authz-{kind[:3]}-{number}"


def channel_seeds(fresh_per_kind: int) -> list[ChannelSeed]:
    """The demo channels, the three main channels and ``fresh_per_kind`` spares of each kind, all bound alike."""
    seeds = [_seed(main_channel(kind), kind) for kind in KINDS]
    seeds += [_seed(fresh_channel_name(kind, n), kind) for kind in KINDS for n in range(fresh_per_kind)]
    return [*DEMO_CHANNELS, *seeds]


@dataclass
class AuthzWorld:
    """What the matrices' request factories draw on (``authz_matrix.Targets``)."""

    services: Services
    api: Api
    fresh_per_kind: int
    tokens: dict[Actor, str | None] = field(default_factory=dict)
    posts: dict[Kind, str] = field(default_factory=dict)
    _fresh_channels: dict[Kind, itertools.count[int]] = field(default_factory=dict)
    _names: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    bystander: str = BYSTANDER

    def username(self, actor: Actor) -> str:
        return USERNAMES[actor]

    def channel(self, kind: Kind) -> str:
        return main_channel(kind)

    def post(self, kind: Kind) -> str:
        return self.posts[kind]

    def fresh_name(self) -> str:
        return f"authz-new-{next(self._names)}"

    async def fresh_channel(self, kind: Kind) -> str:
        """A channel of ``kind`` nobody's case has touched yet, bound like the main one."""
        number = next(self._fresh_channels.setdefault(kind, itertools.count()))
        if number >= self.fresh_per_kind:
            raise AssertionError(f"the world has only {self.fresh_per_kind} spare {kind} channels: seed more")
        return fresh_channel_name(kind, number)

    async def fresh_post(self, kind: Kind) -> str:
        """A new post by the poster in the main channel of ``kind``."""
        return await self.post_as("poster", kind, f"to be deleted {next(self._names)}")

    async def fresh_binding(self, kind: Kind) -> tuple[str, str]:
        """A group bound to the main channel of ``kind`` through the admin API; nobody is in it."""
        group = f"authz-spare-{next(self._names)}"
        await self.api.json(
            "POST",
            f"/api/v1/channels/{self.channel(kind)}/groups",
            USERNAMES["site_admin"],
            status=201,
            json={"group": group, "role": "member"},
        )
        return self.channel(kind), group

    async def fresh_token(self, actor: Actor) -> str | None:
        """A session of its own (so signing it out leaves the actor's other cases alone); None if the actor
        cannot sign in."""
        response = await self.api.client.post(
            "/api/v1/login", json={"username": USERNAMES[actor], "password": f"{USERNAMES[actor]}-pass"}
        )
        if response.status != 200:
            return None
        token: str = (await response.json())["token"]
        return token

    async def post_as(self, actor: Actor, kind: Kind, text: str, **extra: Any) -> str:
        created = await self.api.post(USERNAMES[actor], text, channel=self.channel(kind), **extra)
        post_id: str = created["id"]
        return post_id


async def build_world(services: Services, api: Api, slapd: Slapd, fresh_per_kind: int) -> AuthzWorld:
    """Sync the directory, sign everyone in, post in each channel, then deactivate the deactivated person.

    ``slapd`` must hold the demo directory and ``AUTHZ_LDIF``; the services' settings must seed
    ``channel_seeds(fresh_per_kind)``.
    """
    await services.channels.seed()
    first = await services.directory_sync.run()
    assert first.ok, first.error
    world = AuthzWorld(services, api, fresh_per_kind)
    for actor in ACTORS[1:]:
        world.tokens[actor] = await api.login(USERNAMES[actor])
    world.tokens["anonymous"] = None
    # Someone who leaves keeps what they followed by hand: nothing may reach them through it any more.
    await api.json("POST", f"/api/v1/users/{USERNAMES['poster']}/follow", USERNAMES["deactivated"])
    for kind in KINDS:
        asks = {"requires_ack": True} if kind == "announcement" else {}
        world.posts[kind] = await world.post_as("poster", kind, f"the {kind} post", **asks)

    remove_from_groups_then_delete(slapd, USERNAMES["deactivated"], [MEMBERS_GROUP])
    second = await services.directory_sync.run()
    assert (second.ok, second.deactivated) == (True, 1), second
    assert second.sessions_revoked >= 1
    return world
