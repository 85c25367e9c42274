"""The scheduled directory sync across nodes, against a real slapd: once per interval, whatever the number of
nodes, with nothing recorded for a round that gives way.

- PostgreSQL: two nodes starting a round at the same moment make one sync; a round while another node is
  syncing skips at once; the command waits for that sync and then runs; a hung holder's section ends on
  the server's idle timeout; two real apps with a short interval never sync closer than 0.9 interval apart.
- Both backends: a round right after a successful sync is skipped, the command (service and real
  ``intrablog sync-directory``) still runs, a round a whole interval later runs, and a failed last run does
  not hold the next round back.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select

from intrablog.config import DatabaseConfig, LdapConfig
from intrablog.devstack.slapd import Slapd
from intrablog.runtime import build_app
from intrablog.services.directory_sync import SYNC_JOB, DirectorySyncService
from intrablog.storage.database import SqlDatabase
from intrablog.storage.models import AuditEntryRow, SyncRunRow
from intrablog.storage.pg_connections import connect
from tests.support.app_fixtures import make_settings
from tests.support.config_files import write_config
from tests.support.im_world import World, open_world

INTERVAL = timedelta(minutes=15)
SKIPPED_BY_LOCK = "directory sync skipped: another node is syncing"


class SteppedClock:
    """The service's clock, moved by the test: the skip rule compares it with the runs' finishing times."""

    def __init__(self) -> None:
        self.moment = datetime.now(UTC)

    def now(self) -> datetime:
        return self.moment


async def _counts(world: World) -> tuple[int, int]:
    """(sync_runs rows, ``sync.finished`` audit entries)."""
    async with world.runtime.database.unit_of_work() as uow:
        runs = (await uow.session.execute(select(func.count()).select_from(SyncRunRow))).scalar_one()
        finished = select(func.count()).select_from(AuditEntryRow).where(AuditEntryRow.action == "sync.finished")
        return int(runs), int((await uow.session.execute(finished)).scalar_one())


async def _finishing_times(world: World) -> list[datetime]:
    async with world.runtime.database.unit_of_work() as uow:
        rows = await uow.session.execute(select(SyncRunRow.finished_at).where(SyncRunRow.ok).order_by(SyncRunRow.id))
        return list(rows.scalars())


@pytest.fixture
async def two_nodes(postgres_url: str, ldap_config: LdapConfig) -> AsyncIterator[tuple[World, World]]:
    """Two runtimes on one fresh PostgreSQL database: two nodes, each with its own pool and connections."""
    async with open_world(postgres_url, ldap_config) as first, open_world(postgres_url, ldap_config) as second:
        yield first, second


async def test_two_nodes_starting_a_round_at_the_same_moment_sync_once(two_nodes: tuple[World, World]) -> None:
    first, second = two_nodes

    reports = await asyncio.gather(
        first.services.directory_sync.run_scheduled(INTERVAL), second.services.directory_sync.run_scheduled(INTERVAL)
    )

    done = [report for report in reports if report is not None]
    assert len(done) == 1, reports
    assert done[0].ok, done[0].error
    assert done[0].created == 4
    assert await _counts(first) == (1, 1)


async def test_a_round_while_another_node_syncs_skips_and_the_command_waits_for_it(
    two_nodes: tuple[World, World], postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="intrablog.services.directory_sync")
    first, second = two_nodes
    steps: list[str] = []

    async with first.runtime.database.try_exclusive(SYNC_JOB) as held:
        assert held
        # No sync ever ran, so only the section can hold this round back.
        assert await second.services.directory_sync.run_scheduled(INTERVAL) is None
        assert SKIPPED_BY_LOCK in caplog.messages
        assert await _counts(second) == (0, 0)
        # Operators see who holds it.
        admin = await connect(postgres_url, "test admin")
        try:
            names = await admin.fetchval(
                "SELECT array_agg(application_name) FROM pg_stat_activity WHERE datname = current_database()"
            )
        finally:
            await admin.close()
        assert "intrablog directory sync lock" in names

        command = asyncio.create_task(second.services.directory_sync.run(steps.append))
        for _ in range(100):
            if steps:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)
        assert steps == ["another directory sync is running; waiting for it to finish"]
        assert not command.done()

    report = await asyncio.wait_for(command, 10)
    assert report.ok, report.error
    assert steps[1] == "listing the directory"
    assert await _counts(second) == (1, 1)


async def test_a_hung_holder_loses_the_section_to_the_servers_idle_timeout(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    config = DatabaseConfig(url=postgres_url)
    hung, other = SqlDatabase(config, section_timeout=1.5), SqlDatabase(config, section_timeout=1.5)
    try:
        async with hung.try_exclusive(SYNC_JOB) as held:
            assert held
            # Busy but answering for longer than the timeout (a long sync): the heartbeat keeps the section.
            await asyncio.sleep(2.5)
            async with other.try_exclusive(SYNC_JOB) as taken:
                assert not taken
            # A blocked event loop: the holder's heartbeat cannot answer, so the server ends its session.
            time.sleep(3.5)  # noqa: ASYNC251 - the hang is the point
            async with other.try_exclusive(SYNC_JOB) as taken:
                assert taken
            await asyncio.sleep(0.5)  # the holder's heartbeat wakes and finds its connection gone
        assert any("lock's connection failed" in message for message in caplog.messages)
    finally:
        await hung.dispose()
        await other.dispose()


async def test_the_nodes_of_a_real_schedule_sync_at_least_nine_tenths_of_an_interval_apart(
    postgres_url: str, ldap_config: LdapConfig
) -> None:
    minutes = 0.01  # 0.6 s: rounds of both nodes start together and then interleave
    settings = make_settings(postgres_url, ldap_config.model_copy(update={"sync_interval_minutes": minutes}))
    async with open_world(postgres_url, ldap_config) as world:
        async with TestServer(build_app(settings)), TestServer(build_app(settings)):
            for _ in range(300):
                if len(await _finishing_times(world)) >= 4:
                    break
                await asyncio.sleep(0.05)
        finished = await _finishing_times(world)
        runs, entries = await _counts(world)
    assert len(finished) >= 4
    # Each node has a round every interval: without the section and the skip rule, twice as many runs, some
    # a few milliseconds apart.
    gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(finished)]
    assert min(gaps) >= 0.9 * minutes * 60, gaps
    assert runs == entries == len(finished)


async def test_a_round_after_a_recent_sync_is_skipped_and_the_command_still_runs(
    database_url: str, private_ldap_config: LdapConfig, private_slapd: Slapd, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="intrablog.services.directory_sync")
    clock = SteppedClock()
    async with open_world(database_url, private_ldap_config) as world:
        sync = DirectorySyncService(dataclasses.replace(world.services.context, clock=clock))
        assert (await sync.run()).ok

        clock.moment += INTERVAL * 0.85
        assert await sync.run_scheduled(INTERVAL) is None
        assert "directory sync skipped: the last one finished 765 s ago" in caplog.messages
        assert await _counts(world) == (1, 1)

        command = await sync.run()  # the command is never skipped
        assert command.ok, command.error
        assert await _counts(world) == (2, 2)

        clock.moment += INTERVAL * 0.95
        scheduled = await sync.run_scheduled(INTERVAL)
        assert scheduled is not None
        assert scheduled.ok, scheduled.error
        assert await _counts(world) == (3, 3)

        # A failed last run holds nothing back, however recent: the next round tries again at once.
        private_slapd.stop()
        try:
            assert not (await sync.run()).ok
        finally:
            private_slapd.start()
        retried = await sync.run_scheduled(INTERVAL)
        assert retried is not None
        assert retried.ok, retried.error
        assert await _counts(world) == (5, 4)


async def test_the_command_syncs_right_after_a_scheduled_sync(
    database_url: str, ldap_config: LdapConfig, tmp_path: Path
) -> None:
    async with open_world(database_url, ldap_config) as world:
        scheduled = await world.services.directory_sync.run_scheduled(INTERVAL)
        assert scheduled is not None
        assert scheduled.ok, scheduled.error
        assert await world.services.directory_sync.run_scheduled(INTERVAL) is None

        command = [sys.executable, "-m", "intrablog.cli", "sync-directory", "--config"]
        path = write_config(tmp_path, database_url, ldap_config)
        done = await asyncio.to_thread(
            subprocess.run, [*command, str(path)], capture_output=True, text=True, timeout=60, check=False
        )

        assert done.returncode == 0, done.stdout + done.stderr
        # (Its config file names no site admins or channels: what it changes is beside the point here.)
        assert "directory sync done in" in done.stdout
        assert await _counts(world) == (2, 2)
