"""The directory goes away and comes back (acceptance: issue 3, item 3, the outage half)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from intrablog.config import LdapConfig
from intrablog.devstack.slapd import Slapd
from intrablog.runtime import build_app
from tests.support.app_fixtures import Api, make_settings

DEADLINE_S = 5.0


@pytest.fixture
async def outage_api(database_url: str, private_ldap_config: LdapConfig) -> AsyncIterator[Api]:
    async with TestClient(TestServer(build_app(make_settings(database_url, private_ldap_config)))) as client:
        yield Api(client)


async def _timed_login(api: Api, username: str) -> tuple[int, float, dict[str, object]]:
    started = time.monotonic()
    response = await asyncio.wait_for(
        api.client.post("/api/v1/login", json={"username": username, "password": f"{username}-pass"}),
        timeout=DEADLINE_S,
    )
    return response.status, time.monotonic() - started, await response.json(content_type=None)


@pytest.mark.parametrize("failure", ["stopped", "hung"])
async def test_directory_down_is_503_within_deadline_and_users_are_untouched(
    outage_api: Api, private_slapd: Slapd, failure: str
) -> None:
    api = outage_api
    token = await api.login("bob")
    if failure == "stopped":
        private_slapd.stop()
    else:
        private_slapd.pause()
    try:
        status, _, body = await _timed_login(api, "alice")
        assert status == 503
        assert body["detail"] == "directory unavailable"
        # Same answer for a known user: an outage is never "wrong password" nor "user gone".
        status, _, _ = await _timed_login(api, "bob")
        assert status == 503
        me = await api.json("GET", "/api/v1/me", "bob")
        assert me["active"] is True
        health = await api.client.get("/healthz")
        assert health.status == 503
        assert (await health.json())["directory"].startswith("unavailable")
    finally:
        if failure == "stopped":
            private_slapd.start()
        else:
            private_slapd.resume()
    # Back without restarting intrablog.
    status, _, body = await _timed_login(api, "alice")
    assert status == 200, body
    assert (await api.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})).status == 200
    assert (await api.client.get("/healthz")).status == 200
