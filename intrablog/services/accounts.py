"""Sign-in with the directory password, sessions (API tokens and the browser cookie), profiles."""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from intrablog.domain import rules
from intrablog.domain.events import SignedIn
from intrablog.domain.model import ChannelKind, Role, User
from intrablog.domain.ports import UnitOfWork
from intrablog.errors import Unauthenticated
from intrablog.services.audit import MembershipChange, record_membership
from intrablog.services.context import ServiceContext
from intrablog.services.group_roles import apply_group_roles

log = logging.getLogger(__name__)

BAD_CREDENTIALS = "wrong username or password"


def hash_token(token: str) -> str:
    # Tokens are 256 random bits, so a fast hash is right here (a slow KDF is for guessable secrets).
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class SignedInSession:
    token: str
    user: User
    expires_at: datetime


class AccountService:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    async def sign_in(self, username: str, password: str) -> SignedInSession:
        # Refused before the directory is asked: an LDAP server treats an empty password as an
        # unauthenticated bind that "succeeds".
        if not password.strip() or not rules.is_plausible_username(username):
            raise Unauthenticated(BAD_CREDENTIALS)
        person = await self._ctx.directory.authenticate(username.strip(), password)
        if person is None:
            raise Unauthenticated(BAD_CREDENTIALS)
        now = self._ctx.clock.now()
        token = secrets.token_urlsafe(32)
        expires_at = now + timedelta(hours=self._ctx.policy.token_ttl_hours)
        async with self._ctx.database.unit_of_work() as uow:
            policy = self._ctx.policy
            # Site admin by the config's usernames or by an admin group of the last sync.
            is_site_admin = person.username in policy.site_admins or await uow.bindings.username_in_groups(
                person.username, policy.admin_groups
            )
            user = await uow.users.upsert_from_directory(person, is_site_admin=is_site_admin, now=now)
            await apply_configured_roles(uow, self._ctx, user, now)
            await apply_group_roles(uow, policy, now, only_user=user.id)
            await uow.sessions.add(hash_token(token), user.id, now, expires_at)
            await uow.commit()
        await self._ctx.events.publish(SignedIn(user.id))
        log.info("signed in", extra={"username": user.username})
        return SignedInSession(token, user, expires_at)

    async def authenticate(self, token: str) -> User:
        """The user behind a bearer token or session cookie; Unauthenticated if unknown, expired or inactive."""
        if not token or len(token) > 512:
            raise Unauthenticated("missing or invalid token")
        # Every authenticated request runs this: a reading unit of work (one round trip on PostgreSQL), and
        # no cache, so a revoked session is refused on the very next request.
        async with self._ctx.database.reading() as uow:
            session = await uow.sessions.get(hash_token(token), self._ctx.clock.now())
        if session is None or not session.user.active:
            raise Unauthenticated("missing, expired or revoked token")
        return session.user

    async def sign_out(self, token: str) -> None:
        async with self._ctx.database.unit_of_work() as uow:
            await uow.sessions.revoke(hash_token(token), self._ctx.clock.now())
            await uow.commit()


async def apply_configured_roles(uow: UnitOfWork, ctx: ServiceContext, user: User, now: datetime) -> None:
    """Give a person what the config's usernames promise: poster roles, and every announcement channel.

    Runs at each sign-in, before the roles of the person's directory groups (services.group_roles).
    """
    posters_of = {seed.name: seed.posters for seed in ctx.policy.seeded_channels}
    for channel in await uow.channels.visible_to(user):
        wanted: Role | None = Role.POSTER if user.username in posters_of.get(channel.name, ()) else None
        if channel.kind is ChannelKind.ANNOUNCEMENT:
            wanted = wanted or Role.MEMBER
            await uow.follows.follow_channel(user.id, channel.id, now)
        if wanted is None:
            continue
        membership = await uow.channels.membership(channel.id, user.id)
        if membership is None or not membership.role.at_least(wanted):
            await uow.channels.set_membership(channel.id, user.id, wanted, now)
            if wanted is not Role.MEMBER:
                # A role the config grants is audited; everyone's automatic announcement membership is not
                # (it would be one entry per person of the company, saying nothing).
                change = MembershipChange(channel.name, user.id, membership.role if membership else None, wanted)
                await record_membership(uow, now, None, change, user.username, source="configuration at sign-in")
