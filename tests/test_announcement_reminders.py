"""The one reminder of an announcement that asks for acknowledgement, on SQLite and PostgreSQL: who gets it
on IM and on the web, exactly once however often (and on however many nodes) the round runs, and the
background job of ``intrablog serve`` that runs it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from intrablog.config import AnnouncementsConfig, DatabaseConfig, LdapConfig
from intrablog.domain.events import AckReminderDue
from intrablog.domain.im import DeliveryReason, origin_id_for_post, origin_id_for_reminder
from intrablog.domain.model import User
from intrablog.runtime import build_app
from intrablog.services.context import ServiceContext
from intrablog.services.facade import Services
from intrablog.services.posts import PostDraft
from intrablog.storage.database import SqlDatabase
from intrablog.storage.models import AckReminderRow, DeliveryRow
from tests.support.app_fixtures import Api, make_settings
from tests.support.im_world import World, open_world

DELAY = timedelta(minutes=240)  # the default announcements.reminder_delay_minutes


class Clock:
    """A clock the test moves; the services read it for every "now"."""

    def __init__(self) -> None:
        self.moment = datetime.now(UTC).replace(microsecond=0)

    def now(self) -> datetime:
        return self.moment


@pytest.fixture
async def world(database_url: str, ldap_config: LdapConfig) -> AsyncIterator[World]:
    async with open_world(database_url, ldap_config) as built:
        yield built


def _at(world: World, clock: Clock, database: SqlDatabase | None = None) -> Services:
    """The world's services, reading ``clock`` (and, for a second node, its own database engine)."""
    context: ServiceContext = replace(world.services.context, clock=clock)
    if database is not None:
        context = replace(context, database=database)
    return Services(context)


async def _announce(services: Services, carol: User, text: str = "New expense policy: please read") -> int:
    post = await services.posts.create(carol, PostDraft(text=text, channel="announcements", requires_ack=True))
    return post.id


async def _reminder_rows(world: World) -> dict[int, int]:
    async with world.runtime.database.unit_of_work() as uow:
        rows = await uow.session.execute(select(AckReminderRow.post_id, AckReminderRow.reminded))
        return {row.post_id: row.reminded for row in rows}


async def test_one_reminder_for_the_pending_people_after_the_delay(world: World) -> None:
    clock = Clock()
    services = _at(world, clock)
    alice, bob, carol, dave = [await world.sign_in(name) for name in ("alice", "bob", "carol", "dave")]
    nojid, quiet, gone = await world.person("nojid", xmpp=None), await world.person("quiet"), await world.person("gone")
    await services.im.set_delivery(quiet, None, on=False)
    notice = await _announce(services, carol)
    plain = (await services.posts.create(carol, PostDraft(text="Cake!", channel="announcements"))).id
    withdrawn = await _announce(services, carol, "Sent too early")
    await services.posts.delete(carol, withdrawn)
    await services.announcements.acknowledge(alice, notice, "web")
    await world.deactivate(gone)

    clock.moment += DELAY - timedelta(seconds=1)
    assert await services.announcements.send_due_reminders() == 0, "not yet due"
    assert await _reminder_rows(world) == {}

    clock.moment += timedelta(seconds=1)
    subscription = world.runtime.events.subscribe()
    try:
        assert await services.announcements.send_due_reminders() == 4  # bob, dave, nojid, quiet
        event = await asyncio.wait_for(subscription.get(), 5)
    finally:
        subscription.close()
    assert event == AckReminderDue(notice, tuple(sorted((bob.id, dave.id, nojid.id, quiet.id))))
    # On IM: those with an address, "off" or not (it is the announcement's); not the author, not alice who
    # acknowledged, not someone deactivated since, not nojid who has no IM address (the web tells them).
    expected = {name: ("reminder", "pending") for name in ("bob", "dave", "quiet")}
    assert await world.deliveries_of(origin_id_for_reminder(notice)) == expected
    assert await world.deliveries_of(origin_id_for_reminder(plain)) == {}
    assert await world.deliveries_of(origin_id_for_reminder(withdrawn)) == {}
    assert await _reminder_rows(world) == {notice: 4}

    # Once: later rounds find nothing due, however late.
    clock.moment += DELAY * 10
    assert await services.announcements.send_due_reminders() == 0
    assert await world.deliveries_of(origin_id_for_reminder(notice)) == expected
    assert await world.count(DeliveryRow, DeliveryRow.reason == DeliveryReason.REMINDER.value) == 3

    # Acknowledging after the reminder still works, and the report moves bob over.
    await services.announcements.acknowledge(bob, notice, "im")
    report = await services.announcements.report(carol, notice)
    assert [ack.username for ack in report.acknowledged] == ["alice", "bob"]
    assert [person.username for person in report.pending] == ["dave", "nojid", "quiet"]


async def test_the_outbound_worker_reads_a_reminder_with_its_announcement(world: World) -> None:
    clock = Clock()
    services = _at(world, clock)
    carol = await world.sign_in("carol")
    await world.sign_in("bob")
    quiet = await world.person("quiet")
    await services.im.set_delivery(quiet, None, on=False)
    notice = await _announce(services, carol)
    await world.expand()  # the announcement itself went out first
    clock.moment += DELAY
    assert await services.announcements.send_due_reminders() == 2

    pending = await services.delivery.pending(50)
    reminders = sorted(
        (d.recipient_username, d.recipient_jid, d.reason, d.post.id if d.post else None)
        for d in pending
        if d.origin_id == origin_id_for_reminder(notice)
    )
    # What the worker renders and sends: the reason it decides presence by, the address, the announcement.
    assert reminders == [
        ("bob", "bob@example.com", DeliveryReason.REMINDER, notice),
        ("quiet", "quiet@example.com", DeliveryReason.REMINDER, notice),
    ]
    originals = {d.recipient_username for d in pending if d.origin_id == origin_id_for_post(notice)}
    assert originals == {"bob", "quiet"}, "the reminder is a message of its own, beside the announcement"
    # An announcement withdrawn before the worker got to it: its reminders are dropped with it.
    await services.posts.delete(carol, notice)
    assert [d.origin_id for d in await services.delivery.pending(50)] == []


async def test_two_nodes_running_the_round_at_once_remind_each_person_once(world: World, database_url: str) -> None:
    clock = Clock()
    services = _at(world, clock)
    carol = await world.sign_in("carol")
    await world.crowd("s", 50)
    notices = [await _announce(services, carol, f"Policy {n}") for n in range(4)]
    clock.moment += DELAY
    other_database = SqlDatabase(DatabaseConfig(url=database_url))
    try:
        other_node = _at(world, clock, other_database)
        counts = await asyncio.gather(
            services.announcements.send_due_reminders(), other_node.announcements.send_due_reminders()
        )
    finally:
        await other_database.dispose()
    assert sum(counts) == 4 * 50, counts
    assert await _reminder_rows(world) == {notice: 50 for notice in notices}
    for notice in notices:
        assert len(await world.deliveries_of(origin_id_for_reminder(notice))) == 50


async def test_a_round_that_finds_the_reminder_claimed_by_another_node_skips_it(
    world: World, database_url: str
) -> None:
    clock = Clock()
    services = _at(world, clock)
    carol = await world.sign_in("carol")
    await world.sign_in("bob")
    notice = await _announce(services, carol)
    clock.moment += DELAY
    other_database = SqlDatabase(DatabaseConfig(url=database_url))
    try:
        # The other node has claimed the reminder and not committed yet: this node still sees it due.
        async with other_database.unit_of_work() as other:
            assert await other.acknowledgements.claim_reminder(notice, clock.now())
            this_round = asyncio.create_task(services.announcements.send_due_reminders())
            await asyncio.sleep(0.5)
            assert not this_round.done(), "the claim waits for the other node's transaction"
            await other.acknowledgements.remind(notice, carol.id, origin_id_for_reminder(notice), clock.now())
            await other.commit()
        assert await asyncio.wait_for(this_round, 10) == 0
    finally:
        await other_database.dispose()
    assert await _reminder_rows(world) == {notice: 1}
    assert await world.deliveries_of(origin_id_for_reminder(notice)) == {"bob": ("reminder", "pending")}


async def test_no_reminders_when_the_delay_is_zero(world: World) -> None:
    clock = Clock()
    services = _at(world, clock)
    carol = await world.sign_in("carol")
    await world.sign_in("bob")
    await _announce(services, carol)
    clock.moment += DELAY * 100
    never = Services(replace(services.context, policy=replace(services.context.policy, ack_reminder_delay_minutes=0)))
    assert await never.announcements.send_due_reminders() == 0
    assert await _reminder_rows(world) == {}


def _reminder_tasks() -> list[asyncio.Task[object]]:
    return [task for task in asyncio.all_tasks() if task.get_name() == "ack-reminders" and not task.done()]


async def test_serve_runs_the_reminder_job_only_when_reminders_are_on(
    database_url: str, ldap_config: LdapConfig
) -> None:
    quick = AnnouncementsConfig(reminder_delay_minutes=0.001, reminder_check_seconds=0.05)
    settings = make_settings(database_url, ldap_config, announcements=quick)
    async with TestClient(TestServer(build_app(settings))) as client:
        api = Api(client)
        for name in ("carol", "bob"):
            await api.login(name)
        assert len(_reminder_tasks()) == 1
        notice = await api.post("carol", "Fire drill at 11", "announcements", requires_ack=True)
        database = SqlDatabase(DatabaseConfig(url=database_url))
        try:
            deadline = time.monotonic() + 10
            while True:
                async with database.unit_of_work() as uow:
                    statement = select(DeliveryRow.origin_id).where(DeliveryRow.reason == DeliveryReason.REMINDER.value)
                    origin_ids = list((await uow.session.execute(statement)).scalars())
                if origin_ids or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.05)
        finally:
            await database.dispose()
        assert origin_ids == [origin_id_for_reminder(int(notice["id"]))]
    assert _reminder_tasks() == [], "stopped with the app"

    off = make_settings(database_url, ldap_config, announcements=AnnouncementsConfig(reminder_delay_minutes=0))
    async with TestClient(TestServer(build_app(off))):
        assert _reminder_tasks() == []
