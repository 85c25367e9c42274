"""``intrablog serve`` with its bridge (``[xmpp] enabled``) as a real process: to SIGKILL and start again.

Its log goes to ``intrablog.log`` in the work folder; the process is stopped (SIGTERM, then SIGKILL) when
the block ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import aiohttp

from intrablog.config import Settings
from intrablog.devstack.slapd import free_port
from tests.support.config_files import write_serve_config

_ROOT = Path(__file__).resolve().parents[2]
_START_TIMEOUT = 30.0
_STOP_TIMEOUT = 10.0
_POLL = 0.05


class BridgeProcess:
    def __init__(self, settings: Settings, workdir: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.config = write_serve_config(workdir / "intrablog.toml", settings, self.port)
        self.log_path = workdir / "intrablog.log"
        self._process: asyncio.subprocess.Process | None = None
        self._log: IO[bytes] | None = None
        self.starts = 0

    async def start(self) -> None:
        self._log = self.log_path.open("ab")
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "intrablog.cli",
            "serve",
            "--config",
            str(self.config),
            cwd=_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
            start_new_session=True,
        )
        self.starts += 1
        deadline = asyncio.get_running_loop().time() + _START_TIMEOUT
        async with aiohttp.ClientSession() as http:
            while True:
                if self._process.returncode is not None:
                    raise RuntimeError(f"intrablog exited with {self._process.returncode}: see {self.log_path}")
                try:
                    async with http.get(f"{self.base_url}/healthz") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                if asyncio.get_running_loop().time() > deadline:
                    raise RuntimeError(f"intrablog did not answer within {_START_TIMEOUT} s: see {self.log_path}")
                await asyncio.sleep(_POLL)

    async def kill(self) -> None:
        """SIGKILL: no cleanup runs, the component stream is cut, unconfirmed batches stay PENDING."""
        if self._process is not None and self._process.returncode is None:
            self._process.kill()
            await asyncio.wait_for(self._process.wait(), _STOP_TIMEOUT)
        self._forget()

    async def stop(self) -> None:
        """Graceful (SIGTERM), SIGKILL only past a few seconds."""
        process = self._process
        if process is not None and process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), _STOP_TIMEOUT)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        self._forget()

    def _forget(self) -> None:
        self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # -- the API ---------------------------------------------------------------------------------------------
    async def login(self, http: aiohttp.ClientSession, username: str) -> str:
        payload = {"username": username, "password": f"{username}-pass"}
        async with http.post(f"{self.base_url}/api/v1/login", json=payload) as response:
            assert response.status == 200, await response.text()
            token: str = (await response.json())["token"]
            return token

    async def try_post(self, http: aiohttp.ClientSession, token: str, text: str, channel: str) -> bool:
        """True once the post is stored; False while intrablog is down (the post may or may not exist)."""
        try:
            async with http.post(
                f"{self.base_url}/api/v1/posts",
                json={"text": text, "channel": channel},
                headers={"Authorization": f"Bearer {token}"},
            ) as response:
                assert response.status in (201, 503), await response.text()
                return response.status == 201
        except (TimeoutError, aiohttp.ClientConnectionError):
            return False

    async def channel_post_ids(
        self, http: aiohttp.ClientSession, token: str, channel: str = "engineering"
    ) -> list[int]:
        """Every post in the channel, newest first, page by page."""
        ids: list[int] = []
        before: int | None = None
        while True:
            query = {"limit": "100"} | ({"before": str(before)} if before is not None else {})
            async with http.get(
                f"{self.base_url}/api/v1/channels/{channel}/posts",
                params=query,
                headers={"Authorization": f"Bearer {token}"},
            ) as response:
                assert response.status == 200, await response.text()
                page = [int(post["id"]) for post in await response.json()]
            if not page:
                return ids
            ids += page
            before = min(page)
