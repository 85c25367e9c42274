"""The whole application against real servers: the session slapd and a fresh database per test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer

from intrablog.config import ChannelSeed, DatabaseConfig, LdapConfig, LoggingConfig, ServerConfig, Settings
from intrablog.runtime import build_app

# The demo of issue 6: engineering bound to the engineering group, announcements posted by hr and executives,
# site admins from the admins group. The usernames stay too: tests that sign in without a sync rely on them.
DEMO_CHANNELS = [
    ChannelSeed(name="engineering", title="Engineering", kind="team", groups=["engineering"]),
    ChannelSeed(name="launch", title="Launch", kind="project"),
    ChannelSeed(
        name="announcements",
        title="Announcements",
        kind="announcement",
        posters=["carol", "alice"],
        poster_groups=["hr", "executives"],
    ),
]


def make_settings(database_url: str, ldap_config: LdapConfig, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "server": ServerConfig(public_url="http://intrablog.test"),
        # The fixtures hand over migrated databases; the app's own migration path is tested on its own.
        "database": DatabaseConfig(url=database_url, auto_migrate=False),
        "ldap": ldap_config,
        "logging": LoggingConfig(level="WARNING"),
        "admins": ["alice"],
        "admin_groups": ["admins"],
        "channels": DEMO_CHANNELS,
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class Api:
    """A test client that signs in as demo users and remembers their tokens."""

    client: TestClient[web.Request, web.Application]
    tokens: dict[str, str] = field(default_factory=dict)

    async def login(self, username: str, password: str | None = None) -> str:
        response = await self.client.post(
            "/api/v1/login", json={"username": username, "password": password or f"{username}-pass"}
        )
        assert response.status == 200, await response.text()
        token: str = (await response.json())["token"]
        self.tokens[username] = token
        return token

    def auth(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[username]}"}

    async def call(self, method: str, path: str, as_user: str | None = None, **kwargs: Any) -> ClientResponse:
        headers = dict(kwargs.pop("headers", {}))
        if as_user is not None:
            headers.update(self.auth(as_user))
        return await self.client.request(method, path, headers=headers, **kwargs)

    async def json(self, method: str, path: str, as_user: str, status: int = 200, **kwargs: Any) -> Any:
        response = await self.call(method, path, as_user, **kwargs)
        body = await response.text()
        assert response.status == status, f"{method} {path}: {response.status} {body}"
        return await response.json(content_type=None) if body else None

    async def post(self, as_user: str, text: str, channel: str | None = None, **extra: Any) -> dict[str, Any]:
        payload: dict[str, Any] = {"text": text, **extra}
        if channel is not None:
            payload["channel"] = channel
        created: dict[str, Any] = await self.json("POST", "/api/v1/posts", as_user, status=201, json=payload)
        return created


@pytest.fixture
def app_settings(database_url: str, ldap_config: LdapConfig) -> Settings:
    return make_settings(database_url, ldap_config)


@pytest.fixture
async def api(app_settings: Settings) -> AsyncIterator[Api]:
    app = build_app(app_settings)
    async with TestClient(TestServer(app)) as client:
        yield Api(client)
