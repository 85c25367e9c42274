"""Someone the directory no longer lists, on IM (issue 6, item 6; acceptance 7 end to end): after the sync
that deactivates bob, his API calls are 401, his messages to the bot and to a channel address get the polite
refusal and store nothing, and posts made afterwards never reach him — while his old posts stay readable.
A real slapd, Prosody, the bridge with its outbound worker, and SQLite.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bridges.xmpp.errors import REFUSAL
from intrablog.config import LdapConfig, XmppConfig
from intrablog.devstack.slapd import Slapd
from intrablog.domain.im import origin_id_for_post
from intrablog.domain.model import User
from tests.support.bridge_stack import (
    BOT,
    BridgeStack,
    bridge_stack,
    channel_jid,
    command,
    origin_ids,
    receive,
    stack_settings,
    wait_until,
)
from tests.support.directory_data import remove_from_groups_then_delete
from tests.support.im_world import World
from tests.support.xmpp_client import ImClient
from tests.support.xmpp_fixtures import ImClients

LAUNCH = channel_jid("launch")


@pytest.fixture
async def stack(
    sqlite_url: str, private_ldap_config: LdapConfig, xmpp_config: XmppConfig
) -> AsyncIterator[BridgeStack]:
    async with bridge_stack(stack_settings(sqlite_url, private_ldap_config, xmpp_config)) as running:
        yield running


async def _launch_posts(stack: BridgeStack) -> list[dict[str, Any]]:
    posts: list[dict[str, Any]] = await stack.api.json("GET", "/api/v1/channels/launch/posts?limit=100", "alice")
    return posts


async def test_after_the_sync_bob_is_refused_on_im_gets_nothing_and_his_posts_stay(
    stack: BridgeStack, im_clients: ImClients, private_slapd: Slapd
) -> None:
    services = stack.runtime.services
    assert (await services.directory_sync.run()).ok
    for name in ("alice", "bob", "dave"):
        await stack.api.login(name)
    bob, dave = await im_clients("bob"), await im_clients("dave")
    for client in (bob, dave):
        assert await command(client, "follow launch") == "Following launch on IM."
    await _posted(bob, "my last words on launch")
    [old] = await _launch_posts(stack)
    assert (old["author"]["username"], old["text"]) == ("bob", "my last words on launch")
    before = await stack.api.post("alice", "launch moved to Tuesday", channel="launch")
    # While bob is listed, posts reach him like anyone (and dave gets bob's too).
    assert origin_ids(await receive(bob, 1)) == [origin_id_for_post(int(before["id"]))]
    assert origin_ids(await receive(dave, 2)) == [origin_id_for_post(int(p["id"])) for p in (old, before)]

    remove_from_groups_then_delete(private_slapd, "bob", ["engineering"])
    report = await services.directory_sync.run()
    assert (report.ok, report.deactivated) == (True, 1)
    assert report.sessions_revoked >= 1

    assert (await stack.api.call("GET", "/api/v1/me", "bob")).status == 401
    bob_settings = await services.im.settings(await _user(stack, "bob"))
    # To the bot and to a channel address: the refusal, and nothing done or stored.
    assert await command(bob, "follow engineering") == REFUSAL
    bob.send(LAUNCH, "am I still here?", request_receipt=True)
    refused = await bob.next_message(timeout=5)
    assert (refused.sender, refused.body) == (LAUNCH, REFUSAL)
    assert await _launch_posts(stack) == [before, old]
    assert await services.im.settings(await _user(stack, "bob")) == bob_settings

    after = await stack.api.post("alice", "launch is go", channel="launch")
    assert (await dave.next_message(timeout=5)).origin_id == origin_id_for_post(int(after["id"]))
    await stack.wait_drained()
    await bob.expect_silence(0.5)
    assert await World(stack.runtime).deliveries_of(origin_id_for_post(int(after["id"]))) == {
        "dave": ("channel", "sent")
    }
    assert all(message.sender in (BOT, LAUNCH) for message in bob.history)

    # His posts are kept: colleagues still read them.
    kept = await stack.api.json("GET", f"/api/v1/posts/{old['id']}", "dave")
    assert (kept["author"]["username"], kept["text"]) == ("bob", "my last words on launch")


async def _posted(client: ImClient, text: str) -> None:
    """Post at the launch address and wait for the bridge's receipt (the post is stored), not an answer."""
    stanza_id = client.send(LAUNCH, text, request_receipt=True)
    await wait_until(lambda: stanza_id in client.receipts or bool(client.messages_from(LAUNCH)), 5, "a receipt")
    assert stanza_id in client.receipts, client.messages_from(LAUNCH)


async def _user(stack: BridgeStack, username: str) -> User:
    async with stack.runtime.database.unit_of_work() as uow:
        user = await uow.users.by_username(username)
    assert user is not None
    return user
