"""Roles from directory groups: channel bindings, announcement membership, and the admin API to bind.

Bindings come from two places: the config file (``groups``, ``poster_groups``, ``admin_groups`` of a seeded
channel) and the admin API (stored). Both are applied the same way, from the group memberships of the last
complete sync: at each sync for everyone, at sign-in for the person signing in, and at once when a binding
is made or removed through the API.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from intrablog.domain.bindings import (
    BindingChanges,
    CurrentMembership,
    GroupBinding,
    granted_roles,
    group_ref,
    reconcile,
)
from intrablog.domain.model import Role, User
from intrablog.domain.ports import UnitOfWork
from intrablog.errors import Conflict, FieldError, Forbidden, Invalid, NotFound
from intrablog.services.access import readable_channel
from intrablog.services.audit import MembershipChange, channel_subject, membership_summary, record, record_membership
from intrablog.services.context import Policy, ServiceContext

MAX_GROUP_CHARS = 1024


async def configured_bindings(uow: UnitOfWork, policy: Policy) -> list[GroupBinding]:
    bindings: list[GroupBinding] = []
    for seed in policy.seeded_channels:
        grants = [
            *((group, Role.MEMBER) for group in seed.groups),
            *((group, Role.POSTER) for group in seed.poster_groups),
            *((group, Role.ADMIN) for group in seed.admin_groups),
        ]
        if not grants:
            continue
        channel = await uow.channels.by_name(seed.name)
        if channel is not None:
            bindings.extend(GroupBinding(channel.id, channel.name, group_ref(group), role) for group, role in grants)
    return bindings


@dataclass
class GroupRoleOutcome:
    # Every membership added or removed and every role changed, announcement joins included.
    changes: list[MembershipChange] = field(default_factory=list)
    # Memberships the bound groups added, re-roled, removed or handed back as manual (the sync's count).
    reconciled: int = 0


async def apply_group_roles(
    uow: UnitOfWork, policy: Policy, now: datetime, only_user: int | None = None
) -> GroupRoleOutcome:
    """Make group memberships what the bound groups say (for everyone, or one person); returns the changes.

    Announcement channels first get every active user as a member and follower. For one person (at sign-in)
    each change is audited on its own; callers applying them for everyone audit one summary instead.
    """
    outcome = GroupRoleOutcome()
    for channel_id in await uow.bindings.announcement_channels():
        joined = await uow.bindings.everyone_joins(channel_id, now, only_user)
        announcement = await uow.channels.get(channel_id) if joined else None
        if announcement is not None:
            outcome.changes += [MembershipChange(announcement.name, user_id, None, Role.MEMBER) for user_id in joined]
    bindings = [*await uow.bindings.stored(), *await configured_bindings(uow, policy)]
    members_of = await uow.bindings.members_of({binding.group for binding in bindings}, only_user)
    granted = granted_roles(bindings, members_of)
    for channel_id in sorted(set(granted) | await uow.bindings.channels_with_group_memberships()):
        channel = await uow.channels.get(channel_id)
        if channel is None:
            continue
        current = await uow.bindings.memberships(channel_id, only_user)
        changes = reconcile(granted.get(channel_id, {}), current, channel.is_announcement)
        if changes:
            await uow.bindings.apply(channel_id, changes, now)
            outcome.reconciled += (
                len(changes.add) + len(changes.set_group_role) + len(changes.remove) + len(changes.demote)
            )
            outcome.changes += _membership_changes(channel.name, changes, current)
    if only_user is not None and outcome.changes:
        username = (await uow.audit.usernames([only_user])).get(only_user, "?")
        for change in outcome.changes:
            await record_membership(uow, now, None, change, username, source="directory groups at sign-in")
    return outcome


def _membership_changes(
    channel: str, changes: BindingChanges, current: Mapping[int, CurrentMembership]
) -> list[MembershipChange]:
    found = [MembershipChange(channel, user_id, None, role) for user_id, role in changes.add.items()]
    found += [
        MembershipChange(channel, user_id, current[user_id].role, role)
        for user_id, role in changes.set_group_role.items()
    ]
    found += [MembershipChange(channel, user_id, current[user_id].role, None) for user_id in changes.remove]
    # Handed back as a plain member: a change of role only when the group had granted more.
    found += [
        MembershipChange(channel, user_id, current[user_id].role, Role.MEMBER)
        for user_id in changes.demote
        if current[user_id].role is not Role.MEMBER
    ]
    return found


def _parse_binding(group: str, role: str) -> tuple[str, Role]:
    errors: list[FieldError] = []
    ref = group_ref(unicodedata.normalize("NFC", group))
    if not ref or len(ref) > MAX_GROUP_CHARS or any(unicodedata.category(ch).startswith("C") for ch in ref):
        errors.append(FieldError("group", f"must be a group's name or DN, 1-{MAX_GROUP_CHARS} printable characters"))
    if role not in Role._value2member_map_:
        errors.append(FieldError("role", "must be one of member, poster, admin"))
    if errors:
        raise Invalid.of(errors)
    return ref, Role(role)


@dataclass(frozen=True)
class BindingView:
    channel: str
    group: str
    role: Role
    # "config": from the config file (changed there only); "api": made by a site admin at runtime.
    source: str = "api"


class GroupBindingService:
    """Binding channels to groups at runtime: site admins only; applied at once from the last sync's groups."""

    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    async def bind(self, actor: User, channel_name: str, group: str, role: str) -> BindingView:
        _require_site_admin(actor)
        ref, parsed_role = _parse_binding(group, role)
        now = self._ctx.clock.now()
        async with self._ctx.database.unit_of_work() as uow:
            channel = (await readable_channel(uow, actor, channel_name)).channel
            previous = await _stored_role(uow, channel.id, ref)
            await uow.bindings.bind(channel.id, ref, parsed_role, now)
            outcome = await apply_group_roles(uow, self._ctx.policy, now)
            if previous is not parsed_role or outcome.changes:  # binding again with the same role changes nothing
                replaced = {"previous_role": previous.value} if previous is not None else {}
                summary = await membership_summary(uow, outcome.changes)
                subject = channel_subject(channel.name)
                await record(
                    uow, now, actor, "binding.added", subject, group=ref, role=parsed_role.value, **replaced, **summary
                )
            await uow.commit()
        return BindingView(channel.name, ref, parsed_role)

    async def of_channel(self, viewer: User, channel_name: str) -> list[BindingView]:
        """The groups bound to a channel, for whoever may read it (a private one stays 404 to outsiders)."""
        async with self._ctx.database.unit_of_work() as uow:
            channel = (await readable_channel(uow, viewer, channel_name)).channel
            configured = [b for b in await configured_bindings(uow, self._ctx.policy) if b.channel_id == channel.id]
            stored = [b for b in await uow.bindings.stored() if b.channel_id == channel.id]
        views = [BindingView(channel.name, b.group, b.role, "config") for b in configured]
        views += [BindingView(channel.name, b.group, b.role, "api") for b in stored]
        return sorted(views, key=lambda view: (view.group, view.role.rank, view.source))

    async def unbind(self, actor: User, channel_name: str, group: str) -> None:
        _require_site_admin(actor)
        ref = group_ref(group)
        now = self._ctx.clock.now()
        async with self._ctx.database.unit_of_work() as uow:
            channel = (await readable_channel(uow, actor, channel_name)).channel
            if any(
                b.channel_id == channel.id and b.group == ref for b in await configured_bindings(uow, self._ctx.policy)
            ):
                raise Conflict(f"{ref!r} is bound to {channel.name!r} in the config file; remove it there")
            role = await _stored_role(uow, channel.id, ref)
            if role is None or not await uow.bindings.unbind(channel.id, ref):
                raise NotFound(f"the group {ref!r} is not bound to {channel.name!r}")
            outcome = await apply_group_roles(uow, self._ctx.policy, now)
            summary = await membership_summary(uow, outcome.changes)
            await record(
                uow, now, actor, "binding.removed", channel_subject(channel.name), group=ref, role=role.value, **summary
            )
            await uow.commit()


async def _stored_role(uow: UnitOfWork, channel_id: int, group: str) -> Role | None:
    """The role a binding made through the API gives (None: no such binding)."""
    stored = await uow.bindings.stored()
    return next((b.role for b in stored if b.channel_id == channel_id and b.group == group), None)


def _require_site_admin(actor: User) -> None:
    if not (actor.active and actor.is_site_admin):
        raise Forbidden("only site admins bind channels to directory groups")
