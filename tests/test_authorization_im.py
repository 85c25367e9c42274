"""The authorisation matrix of IM (issue 6, item 5): every bot command and every other door of the bridge,
for every actor, on public, private and announcement channels, answers as tests/support/authz_im_matrix.py
says — through a real Prosody, the bridge, a real slapd and SQLite; one client session per actor, the
messages in sequence. A command added without an entry fails here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from bridges.xmpp.bridge import XmppBridge
from bridges.xmpp.errors import REFUSAL
from intrablog.config import LdapConfig, ServerConfig
from intrablog.devstack.prosody import Prosody
from intrablog.devstack.slapd import Slapd
from intrablog.domain.im import ImStats
from intrablog.observability import ContextFilter
from intrablog.runtime import Runtime, build_runtime, web_settings_from
from intrablog.storage.models import OutboxRow
from intrablog.web.app import create_app
from tests.support.app_fixtures import Api, make_settings
from tests.support.authz_im_matrix import (
    IM_MATRIX,
    ImMessage,
    ImOutcome,
    MessageFactory,
    assert_every_command_has_an_entry,
    command_classes,
    fresh_channels_needed,
    im_cases,
    missing_commands,
)
from tests.support.authz_world import (
    ACTORS,
    AUTHZ_LDIF,
    USERNAMES,
    XMPP_ACCOUNTS,
    Actor,
    AuthzWorld,
    Kind,
    build_world,
    channel_seeds,
)
from tests.support.xmpp_client import ImClient
from tests.support.xmpp_fixtures import xmpp_config_for

ANSWER_TIMEOUT = 5.0
# An XMPP account of the test server that no directory entry names.
UNKNOWN_ACCOUNT = "user1"
REFUSED_LOG = "refused a message from an unknown address"
_PREFIXES = {"Not found: ": "not_found", "Not allowed: ": "forbidden", "Not done: ": "not_done"}


@dataclass
class ImAuthz:
    world: AuthzWorld
    runtime: Runtime
    bridge: XmppBridge
    prosody: Prosody

    def jid(self, message: ImMessage) -> str:
        addresses = self.bridge.addresses
        if message.to == "channel":
            return addresses.channel_jid(message.name)
        if message.to == "person":
            return addresses.person_jid(message.name)
        return addresses.bot_jid


@pytest.fixture
async def im_authz(
    sqlite_url: str, private_slapd: Slapd, private_ldap_config: LdapConfig, private_prosody: Prosody
) -> AsyncIterator[ImAuthz]:
    private_slapd.load_ldif(AUTHZ_LDIF)
    private_prosody.register_many(XMPP_ACCOUNTS)
    fresh = fresh_channels_needed(IM_MATRIX)
    settings = make_settings(
        sqlite_url,
        private_ldap_config,
        channels=channel_seeds(fresh),
        server=ServerConfig(public_url="http://intrablog.test"),
        xmpp=xmpp_config_for(private_prosody),
    )
    runtime = build_runtime(settings)
    try:
        # The bridge alone, without the outbound worker: what the clients receive are the bridge's answers.
        bridge = XmppBridge(runtime.services, settings.xmpp, settings.server.public_url)
        await bridge.start()
        try:
            await bridge.wait_connected(10)
            async with TestClient(TestServer(create_app(runtime.services, web_settings_from(settings)))) as http:
                world = await build_world(runtime.services, Api(http), private_slapd, fresh)
                yield ImAuthz(world, runtime, bridge, private_prosody)
        finally:
            await bridge.stop()
    finally:
        await runtime.database.dispose()


def _classify(body: str) -> str:
    if body == REFUSAL:
        return "refused"
    for prefix, outcome in _PREFIXES.items():
        if body.startswith(prefix):
            return outcome
    return "unexpected" if body.startswith("Something went wrong") else "ok"


async def _send(client: ImClient, jid: str, text: str, refused: Callable[[str], bool]) -> tuple[str, str]:
    """(outcome, what came back). The bridge answers a command, answers a refused message, and acknowledges
    (receipt) a message it posted or sent; a refusal it has already told this minute is only logged."""
    seen = len(client.history)
    stanza_id = client.send(jid, text, request_receipt=True)
    deadline = asyncio.get_running_loop().time() + ANSWER_TIMEOUT
    while asyncio.get_running_loop().time() < deadline:
        # The refusal is logged before it is answered: checked first, it is never mistaken for an answer.
        if refused(stanza_id):
            return "refused", "(logged as refused)"
        answers = [message for message in client.history[seen:] if message.sender == jid]
        if answers:
            return _classify(answers[0].body), answers[0].body
        if stanza_id in client.receipts:
            return "ok", "(receipt)"
        await asyncio.sleep(0.01)
    return "no answer", f"nothing within {ANSWER_TIMEOUT} s"


async def _outbox_rows(runtime: Runtime) -> int:
    """Every post and direct message writes one: a count that moves when anything is stored."""
    async with runtime.database.unit_of_work() as uow:
        return int((await uow.session.execute(select(func.count()).select_from(OutboxRow))).scalar_one())


async def _stats_of(runtime: Runtime, username: str) -> ImStats:
    async with runtime.database.unit_of_work() as uow:
        user = await uow.users.by_username(username)
    assert user is not None
    return await runtime.services.im.stats(user)


async def test_every_command_answers_every_actor_as_the_matrix_says(
    im_authz: ImAuthz, caplog: pytest.LogCaptureFixture
) -> None:
    assert_every_command_has_an_entry(command_classes())
    caplog.set_level(logging.INFO, logger="bridges.xmpp")
    caplog.handler.addFilter(ContextFilter())  # what the JSON log handler adds: the stanza id

    def refused(stanza_id: str) -> bool:
        return any(
            record.getMessage() == REFUSED_LOG and getattr(record, "request_id", None) == f"xmpp:{stanza_id}"
            for record in caplog.records
        )

    accounts: dict[Actor, str] = {**USERNAMES, "anonymous": UNKNOWN_ACCOUNT}
    clients: dict[Actor, ImClient] = {}
    try:
        for actor in ACTORS:
            user = accounts[actor]
            clients[actor] = ImClient(
                im_authz.prosody.jid(user), f"{user}-pass", "127.0.0.1", im_authz.prosody.c2s_port
            )
            await clients[actor].connect()
        stored_before = await _outbox_rows(im_authz.runtime)
        dina_before = await _stats_of(im_authz.runtime, USERNAMES["deactivated"])

        mismatches: list[str] = []
        by_actor: dict[Actor, list[tuple[str, Kind | None, ImOutcome, MessageFactory]]] = {
            actor: [] for actor in ACTORS
        }
        for what, actor, kind, expected, factory in im_cases():
            by_actor[actor].append((what, kind, expected, factory))
        # The refused first: whatever they sent, nothing may be stored for them.
        for actor in ACTORS:
            for what, kind, expected, factory in by_actor[actor]:
                message = await factory(im_authz.world, kind)
                jid = im_authz.jid(message)
                got, said = await _send(clients[actor], jid, message.text, refused)
                if got != expected:
                    where = f"{what} [{kind or 'no channel'}] as {actor}: {message.text!r} to {jid}"
                    mismatches.append(f"{where}: expected {expected}, got {got}: {said}")
            if actor == "deactivated":
                assert await _outbox_rows(im_authz.runtime) == stored_before, "something was stored for them"
                assert await _stats_of(im_authz.runtime, USERNAMES["deactivated"]) == dina_before
        assert not mismatches, f"{len(mismatches)} of {len(im_cases())} IM cases differ:\n" + "\n".join(mismatches)

        # Told once per address they wrote to (then only logged), and never anything but the refusal.
        await asyncio.sleep(0.3)
        for actor in ("anonymous", "deactivated"):
            received = clients[actor].history
            assert {message.body for message in received} == {REFUSAL}, received
            assert len(received) == len({message.sender for message in received}), received
    finally:
        for client in clients.values():
            await client.close()


def test_a_new_command_without_an_entry_fails() -> None:
    @dataclass(frozen=True)
    class Shout:
        text: str

    assert missing_commands(command_classes()) == []
    assert missing_commands((*command_classes(), Shout)) == ["Shout"]
    with pytest.raises(AssertionError, match=r"commands without an entry \['Shout'\]"):
        assert_every_command_has_an_entry((*command_classes(), Shout))
    # And an entry whose command is gone is stale.
    without_ack = tuple(command for command in command_classes() if command.__name__ != "Ack")
    with pytest.raises(AssertionError, match=r"entries for no command \['Ack'\]"):
        assert_every_command_has_an_entry(without_ack)
