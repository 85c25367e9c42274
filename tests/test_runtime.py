"""The assembled application: migrates an empty database at start, seeds channels, reports health."""

from __future__ import annotations

import os
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from intrablog.config import DatabaseConfig, LdapConfig
from intrablog.runtime import build_app
from tests.support.app_fixtures import make_settings


async def test_start_on_an_empty_database_migrates_and_seeds(tmp_path: Path, ldap_config: LdapConfig) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'var' / 'new.db'}"
    settings = make_settings(url, ldap_config, database=DatabaseConfig(url=url, auto_migrate=True))
    async with TestClient(TestServer(build_app(settings))) as client:
        health = await client.get("/healthz")
        assert health.status == 200
        body = await health.json()
        assert body == {"status": "ok", "database": "ok", "directory": "ok", "node": body["node"], "bridge": "disabled"}
        assert str(os.getpid()) in body["node"]
        login = await client.post("/api/v1/login", json={"username": "bob", "password": "bob-pass"})
        token = (await login.json())["token"]
        channels = await client.get("/api/v1/channels", headers={"Authorization": f"Bearer {token}"})
        assert [c["name"] for c in await channels.json()] == ["announcements", "engineering", "launch"]
    assert (tmp_path / "var" / "new.db").is_file()
