"""Bridge leadership: one PostgreSQL advisory lock, several contenders, on a real database.

Exactly one contender holds it; when the holder's session ends (the node died: its connection closed), or
the holder stops answering (a hung node: ``idle_session_timeout``), another takes it within its retry
interval; a holder whose connection ends learns it from ``wait_lost`` and must stop leading.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest

from intrablog.storage.leader_lock import BRIDGE_LOCK_KEY, AdvisoryLock
from intrablog.storage.pg_connections import PgConnection, connect

RETRY_S = 0.2

Contenders = Callable[..., AdvisoryLock]


@pytest.fixture
async def contenders(postgres_url: str) -> AsyncIterator[Contenders]:
    """``contenders(timeout_seconds=...)``: a lock on the test database, closed when the test ends."""
    made: list[AdvisoryLock] = []

    def make(timeout_seconds: float = 5.0) -> AdvisoryLock:
        lock = AdvisoryLock(
            postgres_url,
            BRIDGE_LOCK_KEY,
            f"bridge test-{len(made) + 1}",
            retry_seconds=RETRY_S,
            timeout_seconds=timeout_seconds,
        )
        made.append(lock)
        return lock

    yield make
    for lock in made:
        await lock.close()


@pytest.fixture
async def admin(postgres_url: str) -> AsyncIterator[PgConnection]:
    connection = await connect(postgres_url, "test admin")
    yield connection
    await connection.close()


async def stop(*tasks: asyncio.Task[None]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def holder(admin: PgConnection) -> tuple[int, str] | None:
    """Who holds the bridge lock, as PostgreSQL sees it: (server pid, application name)."""
    row = await admin.fetchval(
        "SELECT ARRAY[l.pid::text, a.application_name] FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
        "WHERE l.locktype = 'advisory' AND l.granted AND a.datname = current_database() "
        "AND ((l.classid::bigint << 32) | l.objid::bigint) = $1",
        BRIDGE_LOCK_KEY,
    )
    return (int(row[0]), str(row[1])) if row is not None else None


async def test_one_of_two_contenders_wins_and_the_other_waits(contenders: Contenders, admin: PgConnection) -> None:
    first, second = contenders(), contenders()
    await asyncio.wait_for(first.acquire(), 2)

    waiting = asyncio.create_task(second.acquire())
    await asyncio.sleep(RETRY_S * 4)  # several attempts, all refused

    assert first.held
    assert not waiting.done()
    assert not second.held
    found = await holder(admin)
    assert found is not None
    assert found[1] == "intrablog bridge test-1 lock"
    await stop(waiting)


async def test_when_the_holders_connection_ends_another_contender_wins_within_the_retry_interval(
    contenders: Contenders, admin: PgConnection
) -> None:
    first, second = contenders(), contenders()
    await first.acquire()
    lost = asyncio.create_task(first.wait_lost())
    waiting = asyncio.create_task(second.acquire())
    found = await holder(admin)
    assert found is not None

    # What PostgreSQL does when a node dies: its session ends (here ended by the server, as on a SIGKILL's
    # closed socket), and the lock with it.
    ended_at = time.monotonic()
    await admin.execute("SELECT pg_terminate_backend($1)", found[0])

    await asyncio.wait_for(waiting, RETRY_S * 2 + 0.5)
    took_over_after = time.monotonic() - ended_at
    await asyncio.wait_for(lost, RETRY_S * 2 + 0.5)  # the old holder knows it no longer leads
    assert not first.held
    assert second.held
    new_holder = await holder(admin)
    assert new_holder is not None
    assert new_holder[1] == "intrablog bridge test-2 lock"
    print(f"the second contender took the lock {took_over_after:.2f} s after the first one's session ended")


async def test_a_graceful_release_hands_over_and_the_lock_can_be_won_again(contenders: Contenders) -> None:
    first, second = contenders(), contenders()
    await first.acquire()
    waiting = asyncio.create_task(second.acquire())
    await asyncio.sleep(RETRY_S)

    await first.release()

    await asyncio.wait_for(waiting, RETRY_S * 2 + 0.5)
    assert (first.held, second.held) == (False, True)
    again = asyncio.create_task(first.acquire())  # on the connection it kept
    await second.close()
    await asyncio.wait_for(again, RETRY_S * 2 + 0.5)
    assert first.held


async def test_a_hung_holder_loses_the_lock_after_the_timeout(contenders: Contenders) -> None:
    timeout = 1.0
    hung, healthy = contenders(timeout_seconds=timeout), contenders(timeout_seconds=timeout)
    await hung.acquire()
    # The hung node never runs wait_lost's checks: its session stays idle, and PostgreSQL ends it.
    started = time.monotonic()

    await asyncio.wait_for(healthy.acquire(), timeout + RETRY_S * 2 + 1.0)

    waited = time.monotonic() - started
    assert waited >= timeout - 0.1, f"taken after {waited:.2f} s: before the hung holder's session timed out"
    print(f"a hung holder kept the lock {waited:.2f} s (timeout {timeout} s)")


async def test_a_live_holder_keeps_the_lock_past_the_timeout(contenders: Contenders) -> None:
    timeout = 1.0
    leader, other = contenders(timeout_seconds=timeout), contenders(timeout_seconds=timeout)
    await leader.acquire()
    lost = asyncio.create_task(leader.wait_lost())  # its checks keep the session busy
    waiting = asyncio.create_task(other.acquire())

    await asyncio.sleep(timeout * 3)

    assert leader.held
    assert not lost.done()
    assert not waiting.done()
    await stop(waiting, lost)


def test_a_timeout_too_short_for_the_holders_checks_is_refused() -> None:
    with pytest.raises(ValueError, match="twice retry_seconds"):
        AdvisoryLock("postgresql+asyncpg://x/y", 1, "bridge", retry_seconds=1.0, timeout_seconds=2.0)
