"""The event bus across nodes (PostgreSQL LISTEN/NOTIFY), two buses on one real database as two nodes.

Each "node" is what ``intrablog.runtime`` builds on PostgreSQL: an in-memory bus wrapped by the NOTIFY bus,
with its own LISTEN and NOTIFY connections. What a node's subscribers must see: every event of the other
nodes, in order, and their own once; a reference read back from storage for an event too large for
NOTIFY; and, whenever events may have been missed (LISTEN connection lost, PostgreSQL restarted, a payload
that cannot be read), the end of their subscription so that they catch up from storage.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest

from intrablog.config import DatabaseConfig
from intrablog.domain.event_ports import EventSubscription
from intrablog.domain.events import DomainEvent, Followed, PostCreated, SignedIn
from intrablog.services.events import InMemoryEventBus
from intrablog.storage.database import SqlDatabase
from intrablog.storage.notify_bus import CHANNEL, PostgresEventBus
from intrablog.storage.pg_connections import PgConnection, connect
from tests.support.bridge_stack import wait_until
from tests.support.event_samples import ONE_OF_EACH
from tests.support.postgres import ThrowawayCluster, postgres_url
from tests.support.storage_data import add_user, new_post

WAIT_S = 5.0

Nodes = Callable[[str], Awaitable[PostgresEventBus]]


@pytest.fixture
async def nodes() -> AsyncIterator[Nodes]:
    """``await nodes(url)``: a started bus on ``url`` with a node id of its own; all stopped at the end."""
    started: list[tuple[PostgresEventBus, SqlDatabase]] = []

    async def start(url: str) -> PostgresEventBus:
        database = SqlDatabase(DatabaseConfig(url=url))
        bus = PostgresEventBus(url, InMemoryEventBus(), database, f"node-{len(started) + 1}", heartbeat_seconds=0.5)
        started.append((bus, database))
        await bus.start()
        assert bus.listening
        return bus

    yield start
    for bus, database in started:
        await bus.stop()
        await database.dispose()


@pytest.fixture
async def admin(postgres_url: str) -> AsyncIterator[PgConnection]:
    """A connection of the test's own on the same database, to send raw NOTIFYs and end other sessions."""
    connection = await connect(postgres_url, "test admin")
    yield connection
    await connection.close()


async def next_event(subscription: EventSubscription, within: float = WAIT_S) -> DomainEvent | None:
    return await asyncio.wait_for(subscription.get(), within)


async def nothing_within(subscription: EventSubscription, seconds: float) -> None:
    try:
        got = await asyncio.wait_for(subscription.get(), seconds)
    except TimeoutError:
        return
    pytest.fail(f"unexpected {got}")


async def test_each_node_sees_the_others_events_in_order_and_its_own_once(postgres_url: str, nodes: Nodes) -> None:
    a, b = await nodes(postgres_url), await nodes(postgres_url)
    on_a, on_b = a.subscribe(), b.subscribe()

    for event in ONE_OF_EACH:
        await a.publish(event)
    for event in ONE_OF_EACH:
        assert await next_event(on_a) == event  # delivered in the process at once...
        assert await next_event(on_b) == event  # ...and on the other node, equal and in order

    await b.publish(SignedIn(42))
    # A's own events did not come back to it through PostgreSQL: the next thing A sees is B's event.
    assert await next_event(on_a) == SignedIn(42)
    assert await next_event(on_b) == SignedIn(42)
    await nothing_within(on_a, 0.3)
    await nothing_within(on_b, 0.3)
    assert (a.stats.received, b.stats.received) == (1, len(ONE_OF_EACH))


async def test_two_equal_events_in_one_round_trip_both_arrive(postgres_url: str, nodes: Nodes) -> None:
    # PostgreSQL folds identical payloads sent in one transaction; the sequence number keeps them apart.
    a, b = await nodes(postgres_url), await nodes(postgres_url)
    on_b = b.subscribe()
    for _ in range(3):
        await a.publish(Followed(follower_id=1, user_id=2))
    for _ in range(3):
        assert await next_event(on_b) == Followed(follower_id=1, user_id=2)


async def test_an_event_too_large_for_notify_is_read_back_from_storage(postgres_url: str, nodes: Nodes) -> None:
    a, b = await nodes(postgres_url), await nodes(postgres_url)
    database = SqlDatabase(DatabaseConfig(url=postgres_url))
    try:
        async with database.unit_of_work() as uow:
            alice = await add_user(uow, "alice")
            await uow.posts.add(new_post(77, alice, text="€" * 4000))  # 12,000 bytes: over NOTIFY's 8,000
            await uow.commit()
        async with database.unit_of_work() as uow:
            post = await uow.posts.get(77)
        assert post is not None
    finally:
        await database.dispose()
    on_b = b.subscribe()

    await a.publish(PostCreated(post))

    assert await next_event(on_b) == PostCreated(post)
    assert b.stats.references == 1


async def test_a_lost_listen_connection_tells_subscribers_to_catch_up(
    postgres_url: str, nodes: Nodes, admin: PgConnection
) -> None:
    a, b = await nodes(postgres_url), await nodes(postgres_url)
    on_b = b.subscribe()
    lost_pid = b.listener_pid

    await admin.execute("SELECT pg_terminate_backend($1)", lost_pid)

    # Subscribers cannot know what was published meanwhile: their subscription ends (as when one falls behind).
    assert await next_event(on_b) is None
    assert b.stats.resyncs == 1
    assert b.stats.listens == 2
    assert b.listener_pid not in (None, lost_pid)
    # The subscriber does what the live hub and the bridge do: subscribe again (then read storage).
    again = b.subscribe()
    await a.publish(SignedIn(5))
    assert await next_event(again) == SignedIn(5)


async def test_a_lost_notify_connection_is_replaced_without_losing_the_event(
    postgres_url: str, nodes: Nodes, admin: PgConnection
) -> None:
    a, b = await nodes(postgres_url), await nodes(postgres_url)
    on_b = b.subscribe()
    await a.publish(SignedIn(1))
    assert await next_event(on_b) == SignedIn(1)
    sender = await admin.fetchval(
        "SELECT pid FROM pg_stat_activity WHERE application_name = $1", f"intrablog events {a.node_id}"
    )

    await admin.execute("SELECT pg_terminate_backend($1)", sender)
    await a.publish(SignedIn(2))

    assert await next_event(on_b) == SignedIn(2)
    assert (a.stats.send_failures, b.stats.resyncs) == (0, 0)


@pytest.mark.parametrize(
    "payload",
    [
        "not json",
        '{"n":"node-x","s":1,"t":"SignedIn","e":{"user_id":"seven"}}',
        '{"n":"node-x","s":3,"t":"PostShredded","e":{}}',  # a newer node's event type
    ],
)
async def test_a_payload_that_cannot_be_delivered_ends_in_a_catch_up_not_a_dead_bus(
    postgres_url: str, nodes: Nodes, admin: PgConnection, payload: str
) -> None:
    a, b = await nodes(postgres_url), await nodes(postgres_url)
    on_b = b.subscribe()

    await admin.execute("SELECT pg_notify($1, $2)", CHANNEL, payload)

    assert await next_event(on_b) is None
    assert b.stats.resyncs == 1
    again = b.subscribe()
    await a.publish(SignedIn(4))
    assert await next_event(again) == SignedIn(4)


async def test_a_reference_to_something_gone_is_skipped(postgres_url: str, nodes: Nodes, admin: PgConnection) -> None:
    a, b = await nodes(postgres_url), await nodes(postgres_url)
    on_b = b.subscribe()

    await admin.execute("SELECT pg_notify($1, $2)", CHANNEL, '{"n":"node-x","s":2,"t":"PostCreated","r":999}')
    await a.publish(SignedIn(3))

    assert await next_event(on_b) == SignedIn(3)  # nothing to show for the post, and nothing missed
    assert (b.stats.resyncs, b.stats.references) == (0, 0)


class RestartableCluster(ThrowawayCluster):
    """A throwaway PostgreSQL of this test's own (the shared server is never restarted by tests)."""

    def restart(self, down_seconds: float) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        time.sleep(down_seconds)  # connections are refused meanwhile: the buses keep retrying
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder}"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "log"), "-w", "-o", options, "start")


@pytest.fixture
def cluster() -> Iterator[RestartableCluster]:
    server = RestartableCluster()
    try:
        server.start()
        yield server
    finally:
        server.stop()


async def test_a_postgresql_restart_ends_in_a_catch_up_and_events_flow_again(
    cluster: RestartableCluster, nodes: Nodes
) -> None:
    url = postgres_url("127.0.0.1", cluster.port, "postgres")
    a, b = await nodes(url), await nodes(url)
    on_b = b.subscribe()
    await a.publish(SignedIn(1))
    assert await next_event(on_b) == SignedIn(1)

    restart = asyncio.create_task(asyncio.to_thread(cluster.restart, 1.0))
    await wait_until(lambda: not b.listening, WAIT_S, "B to notice the server going away")
    await a.publish(SignedIn(2))  # cannot be sent while the server is down
    await restart

    # B lost what was published while it could not listen: its subscribers are told to catch up.
    assert await next_event(on_b, within=10) is None
    await wait_until(lambda: b.listening and a.listening, 10, "both buses to LISTEN again")
    # A could not send an event: once PostgreSQL answers again it tells every node to catch up (B may have
    # heard it, or not yet have been listening: its own catch-up then covers it).
    assert a.stats.send_failures >= 1
    await wait_until(lambda: a.stats.resyncs_sent == 1, 10, "A to tell the other nodes to catch up")
    await asyncio.sleep(0.3)  # let that reach B before B subscribes again
    again = b.subscribe()
    await a.publish(SignedIn(3))
    assert await next_event(again) == SignedIn(3)
