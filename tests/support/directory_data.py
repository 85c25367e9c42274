"""Generated directories for the sync tests: many people and groups, as LDIF for ldapadd."""

from __future__ import annotations

from intrablog.devstack.slapd import Slapd
from intrablog.services.facade import Services

BASE = "dc=example,dc=com"
# The limits of a server that refuses to hand out its whole directory in one unpaged search.
SIZE_LIMITED = "sizelimit size.soft=500 size.hard=500 size.prtotal=unlimited"


def person_dn(number: int) -> str:
    return f"uid=staff{number:05d},ou=staff,{BASE}"


def generated_ldif(people: int, groups: int, members_per_group: int = 25) -> str:
    """``people`` people under ou=staff; ``groups`` groups under ou=teams, half groupOfNames, half posixGroup.

    Group ``n`` holds people ``n * members_per_group ...`` (wrapping around), so every membership is known.
    """
    records = [f"dn: ou=staff,{BASE}\nobjectClass: organizationalUnit\nou: staff\n"]
    records.append(f"dn: ou=teams,{BASE}\nobjectClass: organizationalUnit\nou: teams\n")
    for n in range(people):
        name = f"staff{n:05d}"
        records.append(
            f"dn: {person_dn(n)}\nobjectClass: inetOrgPerson\nuid: {name}\ncn: Staff {n}\nsn: {n}\n"
            f"mail: {name}@example.com\n"
        )
    for g in range(groups):
        members = [(g * members_per_group + k) % people for k in range(members_per_group)]
        if g % 2 == 0:
            lines = "".join(f"member: {person_dn(m)}\n" for m in members)
            records.append(f"dn: cn=team{g:03d},ou=teams,{BASE}\nobjectClass: groupOfNames\ncn: team{g:03d}\n{lines}")
        else:
            lines = "".join(f"memberUid: staff{m:05d}\n" for m in members)
            records.append(
                f"dn: cn=team{g:03d},ou=teams,{BASE}\nobjectClass: posixGroup\ncn: team{g:03d}\n"
                f"gidNumber: {10000 + g}\n{lines}"
            )
    return "\n".join(records)


def expected_members(group: int, people: int, members_per_group: int = 25) -> list[str]:
    return sorted(f"staff{(group * members_per_group + k) % people:05d}" for k in range(members_per_group))


def delete_person(server: Slapd, username: str) -> None:
    server.modify_ldif(f"dn: uid={username},ou=people,{BASE}\nchangetype: delete\n")


def remove_from_groups_then_delete(server: Slapd, username: str, groups: list[str]) -> None:
    """What HR does when someone leaves: out of their groups (a group keeps no dangling member), then gone."""
    for group in groups:
        server.modify_ldif(
            f"dn: cn={group},ou=groups,{BASE}\nchangetype: modify\ndelete: member\n"
            f"member: uid={username},ou=people,{BASE}\n"
        )
    delete_person(server, username)


async def active_usernames(services: Services) -> list[str]:
    async with services.context.database.unit_of_work() as uow:
        users = await uow.users.by_usernames(["alice", "bob", "carol", "dave"])
    return [user.username for user in users if user.active]
