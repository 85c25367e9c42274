"""Several nodes on one PostgreSQL (issue 7, acceptance 2): three real ``intrablog serve`` processes on
loopback, one database, the session's slapd and a Prosody of the test's own, every node with the bridge
enabled.

- A post made through node A appears on a live (SSE) stream held on node C within 1 s: events cross nodes
  through LISTEN/NOTIFY.
- Exactly one node runs the bridge (health says which). It is SIGKILLed while posts flow; another node
  takes over within 10 s, resumes the outbox, and each IM follower receives each post exactly once.

Why the first failover test kills the leader between two batches. A component connection (XEP-0114)
acknowledges nothing, so a batch counts as delivered once the server answers the ping sent after it; a
leader killed after writing a batch and before that answer leaves it PENDING, and the evidence of what
reached people (the ping answer, the clients' receipts) went back over the connection that died: Prosody
bounces stanzas for a disconnected component, and neither it nor ejabberd deduplicates by origin-id. The
next leader cannot tell "routed" from "never written", and resends (a repeat rather than a loss). So
exactly-once holds for every post except those of a batch in flight at the instant of the kill, which are
at-least-once; the second test kills at an arbitrary moment and asserts that: nothing lost, at most one
batch repeated (DESIGN.md, "Delivery guarantee"; README, "Several nodes").
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from intrablog.config import LdapConfig, XmppConfig
from intrablog.devstack.prosody import Prosody
from intrablog.runtime import Runtime, build_runtime
from tests.support.bridge_stack import channel_jid, command, stack_settings, wait_until
from tests.support.node_cluster import Cluster, Node, node_cluster, sse_stream
from tests.support.xmpp_client import ImClient
from tests.support.xmpp_fixtures import ImClients

ENGINEERING = channel_jid("engineering")
FOLLOWERS = ("bob", "carol", "dave")
BATCH_SIZE = 10
TAKEOVER_LIMIT_S = 10.0


@dataclass
class World:
    cluster: Cluster
    http: aiohttp.ClientSession
    tokens: dict[str, str]
    followers: list[ImClient]
    runtime: Runtime  # the test's own view of the database (never serves, never runs a bridge)
    posted: list[int] = field(default_factory=list)

    async def post(self, node: Node, text: str) -> int:
        async with self.http.post(
            f"{node.base_url}/api/v1/posts",
            json={"text": text, "channel": "engineering"},
            headers={"Authorization": f"Bearer {self.tokens['alice']}"},
        ) as response:
            assert response.status == 201, await response.text()
            post_id = int((await response.json())["id"])
        self.posted.append(post_id)
        return post_id

    async def wait_delivered_to_all(self, post_id: int, seconds: float) -> None:
        origin = f"post-{post_id}"
        await wait_until(lambda: all(origin in tally(c) for c in self.followers), seconds, f"{origin} on IM")

    async def drained(self) -> bool:
        """No outbox row left to expand, no delivery the XMPP server has not confirmed: no batch in flight."""
        return await self.runtime.services.delivery.backlog() == 0

    async def has_backlog(self) -> bool:
        return not await self.drained()

    async def wait_delivered(self, seconds: float) -> None:
        expected = {f"post-{post_id}" for post_id in self.posted}
        await wait_until(lambda: all(expected <= set(tally(c)) for c in self.followers), seconds, "every post on IM")


def tally(client: ImClient) -> Counter[str]:
    return Counter(message.origin_id or "" for message in client.messages_from(ENGINEERING))


@asynccontextmanager
async def three_nodes(
    tmp_path: Path,
    postgres_url: str,
    ldap_config: LdapConfig,
    xmpp: XmppConfig,
    private_prosody: Prosody,
    im_clients: ImClients,
) -> AsyncIterator[World]:
    settings = stack_settings(postgres_url, ldap_config, xmpp.model_copy(update={"batch_size": BATCH_SIZE}))
    runtime = build_runtime(settings)
    try:
        async with node_cluster(settings, tmp_path) as cluster, aiohttp.ClientSession() as http:
            # Sessions live in the shared database: a token from one node works on every node.
            logins = zip(("alice", *FOLLOWERS), itertools.cycle(cluster.nodes), strict=False)
            tokens = {user: await node.process.login(http, user) for user, node in logins}
            await cluster.wait_for_leader(http, TAKEOVER_LIMIT_S)
            followers = [await im_clients(user, server=private_prosody) for user in FOLLOWERS]
            for client in followers:
                assert "Following engineering" in await command(client, "follow engineering")
            yield World(cluster, http, tokens, followers, runtime)
    finally:
        await runtime.database.dispose()


async def test_live_events_cross_nodes_and_the_bridge_fails_over_with_each_post_once(
    tmp_path: Path,
    postgres_url: str,
    ldap_config: LdapConfig,
    private_prosody: Prosody,
    private_xmpp_config: XmppConfig,
    im_clients: ImClients,
) -> None:
    async with three_nodes(
        tmp_path, postgres_url, ldap_config, private_xmpp_config, private_prosody, im_clients
    ) as world:
        leader = await world.cluster.wait_for_leader(world.http, 5)
        node_a, node_c = [node for node in world.cluster.nodes if node is not leader]
        async with sse_stream(world.http, node_c, "/live/channels/engineering", world.tokens["bob"]) as stream:
            # -- live events cross nodes: made on A, pushed on C's stream within 1 s -----------------------
            latencies = []
            for n in range(5):
                started = time.monotonic()
                post_id = await world.post(node_a, f"cross-node {n}")
                async with asyncio.timeout(1.0):
                    assert await stream.next_post(within=1.0) == post_id
                latencies.append(time.monotonic() - started)
            reading = asyncio.create_task(stream.read_all())

            # -- posts flow through every node; the leader dies between two batches ----------------------
            for n in range(20):
                await world.post(world.cluster.nodes[n % 3], f"before {n}")
                await asyncio.sleep(0.1)
            await world.wait_delivered(15)
            await wait_until(world.drained, 10, "every batch confirmed")
            killed_at = time.monotonic()
            await leader.kill()
            first_after = await world.post(node_a, "while nobody runs the bridge")
            survivors = world.cluster.living()

            async def keep_posting() -> None:
                for n in range(30):
                    await world.post(survivors[n % 2], f"after {n}")
                    await asyncio.sleep(0.1)

            poster = asyncio.create_task(keep_posting())
            new_leader = await world.cluster.wait_for_leader(world.http, TAKEOVER_LIMIT_S)
            took_over = time.monotonic() - killed_at
            await world.wait_delivered_to_all(first_after, TAKEOVER_LIMIT_S)
            resumed = time.monotonic() - killed_at
            await poster
            await world.wait_delivered(30)
            await wait_until(world.drained, 10, "every batch confirmed")
            await asyncio.sleep(1.0)  # a late repeat would show now
            reading.cancel()

        print(
            f"post on A -> SSE on C: max {max(latencies) * 1000:.0f} ms; {leader.name} killed, {new_leader.name} "
            f"held the bridge lock after {took_over:.2f} s and delivered the first post made since after "
            f"{resumed:.2f} s"
        )
        assert max(latencies) < 1.0
        assert new_leader is not leader
        assert took_over <= resumed <= TAKEOVER_LIMIT_S
        # C's stream, open throughout, got every post of every node once, in order.
        assert stream.post_ids == world.posted
        expected = {f"post-{post_id}" for post_id in world.posted}
        for client in world.followers:
            counts = tally(client)
            assert set(counts) == expected, f"{client.jid}: missing {sorted(expected - set(counts))[:5]}"
            repeated = {origin: count for origin, count in counts.items() if count > 1}
            assert not repeated, f"{client.jid} received posts more than once: {repeated}"


async def test_a_leader_killed_at_any_moment_loses_nothing_and_repeats_at_most_one_batch(
    tmp_path: Path,
    postgres_url: str,
    ldap_config: LdapConfig,
    private_prosody: Prosody,
    private_xmpp_config: XmppConfig,
    im_clients: ImClients,
) -> None:
    async with three_nodes(
        tmp_path, postgres_url, ldap_config, private_xmpp_config, private_prosody, im_clients
    ) as world:
        leader = await world.cluster.wait_for_leader(world.http, 5)
        posters = [node for node in world.cluster.nodes if node is not leader]
        done = asyncio.Event()

        async def post_steadily() -> None:  # 50 posts a second: the bridge is busy most of the time
            for n in itertools.count():
                await world.post(posters[n % 2], f"steady {n}")
                if done.is_set():
                    return
                await asyncio.sleep(0.02)

        poster = asyncio.create_task(post_steadily())
        try:
            await wait_until(lambda: len(world.posted) >= 60, 30, "60 posts")
            # Aim at the hard case: some deliveries not yet confirmed (a batch read, or sent and unconfirmed).
            await wait_until(world.has_backlog, 10, "deliveries in hand")
            killed_at = time.monotonic()
            await leader.kill()  # whatever batch it had in flight stays unconfirmed
            posted_before_kill = len(world.posted)
            new_leader = await world.cluster.wait_for_leader(world.http, TAKEOVER_LIMIT_S)
            await wait_until(lambda: len(world.posted) > posted_before_kill, 5, "a post after the kill")
            await world.wait_delivered_to_all(world.posted[posted_before_kill], TAKEOVER_LIMIT_S)
            took_over = time.monotonic() - killed_at
            await wait_until(lambda: len(world.posted) >= 160, 30, "100 posts more")
            done.set()
            await poster
        finally:
            poster.cancel()
        await world.wait_delivered(30)
        await wait_until(world.drained, 10, "every batch confirmed")
        await asyncio.sleep(1.0)

    expected = {f"post-{post_id}" for post_id in world.posted}
    repeats = {}
    for client in world.followers:
        counts = tally(client)
        assert set(counts) == expected, f"{client.jid}: missing {sorted(expected - set(counts))[:5]}"
        repeats[client.jid] = sum(count - 1 for count in counts.values())
    print(
        f"{len(expected)} posts x {len(world.followers)} followers; {leader.name} killed, {new_leader.name} "
        f"delivered the first post made since the kill after {took_over:.2f} s; repeats {repeats}"
    )
    assert took_over <= TAKEOVER_LIMIT_S
    assert all(count <= BATCH_SIZE for count in repeats.values()), f"more than one batch repeated: {repeats}"
