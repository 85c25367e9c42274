"""Users: the directory mirror (upsert), look-ups and follower counts, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from intrablog.domain.model import DirectoryPerson
from intrablog.storage.database import SqlDatabase
from tests.support.storage_data import NOW, add_user, person


async def test_first_sign_in_creates_an_active_user(database: SqlDatabase) -> None:
    async with database.unit_of_work() as uow:
        alice = await uow.users.upsert_from_directory(person("alice", "Alice Archer"), is_site_admin=True, now=NOW)
        await uow.commit()

    assert alice.id > 0
    assert (alice.username, alice.display_name) == ("alice", "Alice Archer")
    assert (alice.email, alice.xmpp_address) == ("alice@example.com", "alice@example.com")
    assert alice.active
    assert alice.is_site_admin
    assert alice.created_at == NOW
    assert alice.last_seen_in_directory == NOW
    async with database.unit_of_work() as uow:
        assert await uow.users.get(alice.id) == alice
        assert await uow.users.by_username("alice") == alice


async def test_later_sign_in_refreshes_the_mirror_and_keeps_id_and_creation(database: SqlDatabase) -> None:
    later = NOW + timedelta(days=3)
    renamed = DirectoryPerson("bob", "Robert Builder", email=None, xmpp_address="robert@example.com")
    async with database.unit_of_work() as uow:
        first = await add_user(uow, "bob", site_admin=True)
        second = await uow.users.upsert_from_directory(renamed, is_site_admin=False, now=later)
        await uow.commit()

    assert second.id == first.id
    assert second.created_at == NOW
    assert second.last_seen_in_directory == later
    assert (second.display_name, second.email, second.xmpp_address) == ("Robert Builder", None, "robert@example.com")
    assert not second.is_site_admin
    async with database.unit_of_work() as uow:
        assert await uow.users.get(first.id) == second


async def test_lookups_of_unknown_people_find_nothing(database: SqlDatabase) -> None:
    async with database.unit_of_work() as uow:
        assert await uow.users.get(12345) is None
        assert await uow.users.by_username("nobody") is None
        assert await uow.users.by_usernames([]) == []


async def test_by_usernames_returns_the_known_ones_by_username(database: SqlDatabase) -> None:
    async with database.unit_of_work() as uow:
        for name in ("carol", "alice", "bob"):
            await add_user(uow, name)
        found = await uow.users.by_usernames(["carol", "ghost", "alice", "carol"])
    assert [user.username for user in found] == ["alice", "carol"]


async def test_follower_and_following_counts(database: SqlDatabase) -> None:
    async with database.unit_of_work() as uow:
        alice, bob, carol = [await add_user(uow, name) for name in ("alice", "bob", "carol")]
        await uow.follows.follow_user(bob.id, alice.id, NOW)
        await uow.follows.follow_user(carol.id, alice.id, NOW)
        await uow.follows.follow_user(alice.id, carol.id, NOW)
        await uow.commit()

    async with database.unit_of_work() as uow:
        assert await uow.users.follower_count(alice.id) == 2
        assert await uow.users.following_count(alice.id) == 1
        assert await uow.users.follower_count(bob.id) == 0
        assert await uow.users.following_count(bob.id) == 1
