"""The push benchmark's intrablog: the real application on a port of its own, with a slapd and SQLite."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

from aiohttp import ClientSession, web
from pydantic import SecretStr

from bench._loopback import serve_on_loopback
from intrablog.config import ChannelSeed, DatabaseConfig, LdapConfig, LoggingConfig, ServerConfig, Settings
from intrablog.devstack.slapd import Slapd, free_port
from intrablog.runtime import build_app
from intrablog.web.live import LIVE_HUB
from intrablog.web.live_hub import LiveHub

DEMO_DIRECTORY = Path(__file__).resolve().parents[1] / "deploy" / "dev" / "directory.ldif"
ADMIN_PASSWORD = "admin-secret"


class IntrablogServer:
    def __init__(self, workdir: Path) -> None:
        self._workdir = workdir
        self._slapd = Slapd(workdir / "slapd", free_port(), admin_password=ADMIN_PASSWORD)
        self._runner: web.AppRunner | None = None
        self._hub: LiveHub | None = None
        self.port = 0

    def _settings(self) -> Settings:
        return Settings(
            server=ServerConfig(public_url="http://127.0.0.1:8080", secret_key=SecretStr("bench-secret-key")),
            database=DatabaseConfig(url=f"sqlite+aiosqlite:///{self._workdir / 'intrablog.db'}"),
            ldap=LdapConfig(
                url=self._slapd.url,
                mode="search",
                bind_dn=f"cn=admin,{self._slapd.suffix}",
                bind_password=SecretStr(ADMIN_PASSWORD),
                user_base=self._slapd.suffix,
            ),
            logging=LoggingConfig(level="ERROR"),
            admins=["alice"],
            channels=[ChannelSeed(name="engineering", title="Engineering", kind="team")],
        )

    async def __aenter__(self) -> IntrablogServer:
        (self._workdir / "slapd").mkdir()
        self._slapd.start()
        self._slapd.load_ldif(DEMO_DIRECTORY)
        app = build_app(self._settings())  # migrates the fresh database and seeds the channel at start
        self._hub = app[LIVE_HUB]
        self._runner, self.port = await serve_on_loopback(app)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if self._runner is not None:
                await self._runner.cleanup()
        finally:
            self._slapd.stop()

    @property
    def hub(self) -> LiveHub:
        assert self._hub is not None, "not started"
        return self._hub

    async def sign_in(self, http: ClientSession, username: str) -> str:
        url = f"http://127.0.0.1:{self.port}/api/v1/login"
        async with http.post(url, json={"username": username, "password": f"{username}-pass"}) as response:
            response.raise_for_status()
            token: str = (await response.json())["token"]
            return token

    async def post(self, http: ClientSession, token: str, text: str) -> None:
        url = f"http://127.0.0.1:{self.port}/api/v1/posts"
        headers = {"Authorization": f"Bearer {token}"}
        async with http.post(url, json={"text": text, "channel": "engineering"}, headers=headers) as response:
            response.raise_for_status()

    def last_push_seconds(self) -> float:
        return self.hub.stats.last_push_seconds

    def last_frame_bytes(self) -> int:
        return self.hub.stats.last_frame_bytes

    def stream_count(self) -> int:
        return self.hub.stream_count

    def close_streams(self) -> None:
        self.hub.close_all()
