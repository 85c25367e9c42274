"""The outbound worker keeps several slices in flight without loosening the delivery guarantee.

A burst of posts waits in the outbox (the worker stopped), then the worker drains it through the real
Prosody to two real clients, on SQLite and PostgreSQL. The worker must have had more than one slice in
flight at once (it does not wait for each confirmation before sending on), never more than ``batch_size``
messages sent and not yet recorded as SENT (what a crash of intrablog may repeat: DESIGN.md, "Delivery
guarantee"), and each follower gets every post once, in the order they were written.
"""

from __future__ import annotations

import asyncio

from bridges.xmpp.outbound import SLICES_PER_BATCH
from intrablog.config import LdapConfig, XmppConfig
from tests.support.bridge_stack import bridge_stack, channel_jid, command, origin_ids, stack_settings, wait_until
from tests.support.xmpp_fixtures import ImClients

ENGINEERING = channel_jid("engineering")
BATCH_SIZE = 8
SLICE = -(-BATCH_SIZE // SLICES_PER_BATCH)  # a ping after each
POSTS = 40
FOLLOWERS = ("bob", "carol")


async def test_slices_overlap_within_one_batch_and_arrive_once_in_order(
    database_url: str, ldap_config: LdapConfig, xmpp_config: XmppConfig, im_clients: ImClients
) -> None:
    xmpp = xmpp_config.model_copy(update={"batch_size": BATCH_SIZE})
    async with bridge_stack(stack_settings(database_url, ldap_config, xmpp)) as stack:
        for user in ("alice", *FOLLOWERS):
            await stack.api.login(user)
        followers = [await im_clients(user) for user in FOLLOWERS]
        for client in followers:
            assert "Following engineering" in await command(client, "follow engineering")
        worker = stack.running.worker
        await worker.stop()  # intrablog takes the posts; the outbox fills up
        posts = [await stack.api.post("alice", f"burst {n}", channel="engineering") for n in range(POSTS)]
        expected = [f"post-{post['id']}" for post in posts]

        peak = 0

        async def watch() -> None:
            nonlocal peak
            while True:
                peak = max(peak, worker.in_flight)
                await asyncio.sleep(0)  # every turn of the loop: the worker yields after each slice

        watcher = asyncio.create_task(watch())
        try:
            await worker.start()
            await wait_until(
                lambda: all(len(client.messages_from(ENGINEERING)) >= POSTS for client in followers),
                20,
                "every post at every follower",
            )
            await stack.wait_drained()
        finally:
            watcher.cancel()
        await asyncio.sleep(0.3)  # a late repeat would show now
        for client in followers:
            assert origin_ids(client.messages_from(ENGINEERING)) == expected, client.jid
        assert SLICE < peak <= BATCH_SIZE, f"at most {peak} messages in flight"
        assert worker.stats.sent == POSTS * len(FOLLOWERS)
        assert worker.in_flight == 0
