"""The directory sync through its faces: `intrablog sync-directory`, the background job of `serve`, and what a
person deactivated by it sees (issue 6, acceptance 7 and build item 6)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from intrablog.config import LdapConfig
from intrablog.devstack.slapd import Slapd
from intrablog.domain.im import ImTarget, origin_id_for_post
from intrablog.runtime import build_app, build_runtime
from tests.support.app_fixtures import Api, make_settings
from tests.support.config_files import write_config
from tests.support.directory_data import active_usernames, remove_from_groups_then_delete
from tests.support.im_world import World, open_world


def _sync(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "intrablog.cli", "sync-directory", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_command_shows_progress_and_a_summary_and_fails_with_the_reason(
    tmp_path: Path, sqlite_url: str, private_ldap_config: LdapConfig, private_slapd: Slapd
) -> None:
    path = write_config(tmp_path, sqlite_url, private_ldap_config)

    done = _sync(path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "listing the directory ..." in done.stdout
    assert "listed 4 people and 4 groups" in done.stdout
    assert "directory sync done in" in done.stdout
    assert "created 4, updated 0, deactivated 0, reactivated 0" in done.stdout

    private_slapd.stop()
    failed = _sync(path)
    assert failed.returncode == 1
    assert "directory sync failed, nothing changed: directory unavailable" in failed.stderr
    assert "Traceback" not in failed.stderr
    assert "admin-secret" not in failed.stdout + failed.stderr


@pytest.fixture
async def synced_api(database_url: str, private_ldap_config: LdapConfig) -> AsyncIterator[tuple[Api, World]]:
    settings = make_settings(database_url, private_ldap_config)
    async with (
        TestClient(TestServer(build_app(settings))) as client,
        open_world(database_url, private_ldap_config) as w,
    ):
        yield Api(client), w


async def test_a_person_removed_from_the_directory_is_401_and_refused_on_im_after_one_sync(
    synced_api: tuple[Api, World], private_slapd: Slapd
) -> None:
    api, world = synced_api
    for name in ("alice", "bob"):
        await api.login(name)
    bob = await world.sign_in("bob")
    await world.services.im.follow(bob, ImTarget("channel", "engineering"))
    before = await api.post("bob", "my last post", channel="engineering")
    assert (await world.services.im.user_for_jid("bob@example.com/phone")) == bob
    alice = await world.sign_in("alice")
    earlier = await world.post(alice, "standup in 5", channel="engineering")
    await world.expand()
    assert await world.deliveries_of(origin_id_for_post(earlier)) == {"bob": ("channel", "pending")}

    remove_from_groups_then_delete(private_slapd, "bob", ["engineering"])
    # Until a sync, the mirror still holds bob: the directory's word arrives through the sync only.
    assert (await api.call("GET", "/api/v1/me", "bob")).status == 200
    report = await world.services.directory_sync.run()
    assert (report.ok, report.deactivated, report.sessions_revoked) == (True, 1, 2)

    response = await api.call("GET", "/api/v1/me", "bob")
    assert response.status == 401
    assert response.content_type == "application/problem+json"
    assert (await api.call("GET", "/api/v1/me", "alice")).status == 200
    # IM: the bridge refuses messages from addresses without an active user (see test_bridge_inbound).
    assert await world.services.im.user_for_jid("bob@example.com/phone") is None
    # Nothing is delivered to him any more; his posts stay.
    after = await world.post(alice, "who took the last coffee?", channel="engineering")
    await world.expand()
    assert await world.deliveries_of(origin_id_for_post(after)) == {}
    kept = await api.json("GET", f"/api/v1/posts/{before['id']}", "alice")
    assert kept["text"] == "my last post"
    async with world.runtime.database.unit_of_work() as uow:
        assert await uow.directory_sync.group_members("cn=engineering,ou=groups,dc=example,dc=com") == ["alice"]

    # Back in the directory: reactivated at the next sync; he signs in again.
    private_slapd.load_ldif(
        "dn: uid=bob,ou=people,dc=example,dc=com\nobjectClass: inetOrgPerson\nuid: bob\ncn: Bob Baker\nsn: Baker\n"
        "mail: bob@example.com\nuserPassword: bob-pass\n"
    )
    report = await world.services.directory_sync.run()
    assert (report.ok, report.reactivated) == (True, 1)
    await api.login("bob")
    assert (await api.call("GET", "/api/v1/me", "bob")).status == 200


async def test_the_background_job_syncs_every_interval_and_stops_with_the_app(
    database_url: str, private_ldap_config: LdapConfig
) -> None:
    settings = make_settings(database_url, private_ldap_config)
    tick = settings.model_copy(update={"ldap": private_ldap_config.model_copy(update={"sync_interval_minutes": 0.005})})
    app = build_app(tick)
    async with TestClient(TestServer(app)):
        runtime = build_runtime(settings)
        try:
            for _ in range(100):
                if await active_usernames(runtime.services) == ["alice", "bob", "carol", "dave"]:
                    break
                await asyncio.sleep(0.05)
            assert await active_usernames(runtime.services) == ["alice", "bob", "carol", "dave"]
        finally:
            await runtime.database.dispose()
    assert not [task for task in asyncio.all_tasks() if task.get_name() == "directory-sync"]
