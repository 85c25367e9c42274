"""Channels bound to directory groups: which role each person should hold, and what changes get them there.

Pure: the services load the bindings, the group members and the current memberships, ask :func:`reconcile`
what to change, and hand the changes to storage.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from intrablog.domain.model import Role


def group_ref(group: str) -> str:
    """How a group is named in a binding: its name (cn) or its DN (anything with "="), lower-cased."""
    return group.strip().lower()


@dataclass(frozen=True)
class GroupBinding:
    channel_id: int
    channel_name: str
    group: str
    role: Role


@dataclass(frozen=True)
class CurrentMembership:
    role: Role
    from_group: bool


@dataclass
class BindingChanges:
    """What to do to one channel's memberships; every user id appears in at most one list."""

    # New group memberships (with a follow that delivers on IM): user id -> role.
    add: dict[int, Role] = field(default_factory=dict)
    # Existing memberships that become (or stay) group memberships with a new role.
    set_group_role: dict[int, Role] = field(default_factory=dict)
    # Group memberships no group carries any more: removed, with their follow.
    remove: list[int] = field(default_factory=list)
    # Group memberships no group carries in an announcement channel: back to plain (manual) members.
    demote: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.add or self.set_group_role or self.remove or self.demote)


def granted_roles(
    bindings: Iterable[GroupBinding], members_of: Mapping[str, Iterable[int]]
) -> dict[int, dict[int, Role]]:
    """channel id -> user id -> the strongest role any bound group of theirs grants."""
    granted: dict[int, dict[int, Role]] = {}
    for binding in bindings:
        roles = granted.setdefault(binding.channel_id, {})
        for user_id in members_of.get(binding.group, ()):
            held = roles.get(user_id)
            if held is None or binding.role.at_least(held):
                roles[user_id] = binding.role
    return granted


def reconcile(
    granted: Mapping[int, Role], current: Mapping[int, CurrentMembership], announcement: bool
) -> BindingChanges:
    """The changes that make group memberships those the groups grant; manual memberships are left alone.

    A group granting more than a manual membership holds takes the membership over (it becomes a group
    membership); a group membership that no group carries any more is removed, or, in an announcement
    channel that everyone belongs to, becomes a plain member again.
    """
    changes = BindingChanges()
    for user_id, role in granted.items():
        held = current.get(user_id)
        if held is None:
            changes.add[user_id] = role
        elif held.role is not role and (held.from_group or role.at_least(held.role)):
            # A group role replaces a group role; it takes over a manual membership only to raise it.
            changes.set_group_role[user_id] = role
    for user_id, held in current.items():
        if held.from_group and user_id not in granted:
            (changes.demote if announcement else changes.remove).append(user_id)
    return changes
