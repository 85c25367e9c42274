"""Several ``intrablog serve`` processes on one PostgreSQL database: a cluster of nodes for the multinode tests.

Each node is a real process (``BridgeProcess``) with its own port, folder and log (``<folder>/node-N/
intrablog.log``), all with the same configuration: the same database, directory and XMPP component, and
``[xmpp] enabled`` on every node (the bridge lock decides which one runs it). Nodes report their part in
``GET /healthz`` (``node``, ``bridge``); a server-sent-events reader follows a live stream on any node.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from intrablog.config import Settings
from tests.support.bridge_process import BridgeProcess
from tests.support.sse import next_fields

_POLL = 0.05


@dataclass
class Node:
    name: str
    process: BridgeProcess
    alive: bool = True

    @property
    def base_url(self) -> str:
        return self.process.base_url

    async def health(self, http: aiohttp.ClientSession) -> dict[str, Any] | None:
        """The node's /healthz body, or None when it does not answer (it is down)."""
        try:
            async with http.get(f"{self.base_url}/healthz", timeout=aiohttp.ClientTimeout(total=2)) as response:
                body: dict[str, Any] = await response.json()
                return body
        except (aiohttp.ClientError, TimeoutError):
            return None

    async def kill(self) -> None:
        self.alive = False
        await self.process.kill()


@dataclass
class Cluster:
    nodes: list[Node]

    def living(self) -> list[Node]:
        return [node for node in self.nodes if node.alive]

    async def roles(self, http: aiohttp.ClientSession) -> dict[str, str]:
        """Each living node's bridge role ("leader", "standby"), as its health check says."""
        living = self.living()
        healths = await asyncio.gather(*(node.health(http) for node in living))
        return {node.name: (health or {}).get("bridge", "down") for node, health in zip(living, healths, strict=True)}

    async def wait_for_leader(self, http: aiohttp.ClientSession, seconds: float) -> Node:
        """The one living node that runs the bridge; fails unless exactly one does within ``seconds``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while True:
            roles = await self.roles(http)
            leaders = [name for name, role in roles.items() if role == "leader"]
            if len(leaders) == 1 and all(role in ("leader", "standby") for role in roles.values()):
                return next(node for node in self.nodes if node.name == leaders[0])
            assert len(leaders) <= 1, f"two nodes run the bridge: {roles}"
            if loop.time() > deadline:
                raise AssertionError(f"no single bridge leader within {seconds} s: {roles}")
            await asyncio.sleep(_POLL)


@asynccontextmanager
async def node_cluster(settings: Settings, folder: Path, count: int = 3) -> AsyncIterator[Cluster]:
    """``count`` nodes started at the same moment (as a deployment restarting all of them would), stopped
    (SIGTERM) at the end."""
    processes = []
    for number in range(1, count + 1):
        workdir = folder / f"node-{number}"
        workdir.mkdir(parents=True)
        processes.append(BridgeProcess(settings, workdir))
    async with AsyncExitStack() as stack:
        for process in processes:
            stack.push_async_callback(process.stop)
        await asyncio.gather(*(process.start() for process in processes))
        yield Cluster([Node(f"node-{number}", process) for number, process in enumerate(processes, 1)])


@dataclass
class SseReader:
    """One Server-Sent Events response read event by event (comments and the retry hint skipped)."""

    response: aiohttp.ClientResponse
    post_ids: list[int] = field(default_factory=list)

    async def next_post(self, within: float) -> int:
        """The id of the next ``post`` event."""
        while True:
            fields = await next_fields(self.response.content, within)
            if fields.get("event") == "post" and "data" in fields:
                post_id = int(json.loads(fields["data"])["id"])
                self.post_ids.append(post_id)
                return post_id

    async def read_all(self) -> None:
        """Keep reading in the background until the stream ends (``post_ids`` collects them)."""
        try:
            while True:
                await self.next_post(within=3600)
        except (aiohttp.ClientError, asyncio.IncompleteReadError, ConnectionError):
            return


@asynccontextmanager
async def sse_stream(http: aiohttp.ClientSession, node: Node, path: str, token: str) -> AsyncIterator[SseReader]:
    async with http.get(
        f"{node.base_url}{path}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=aiohttp.ClientTimeout(total=None, sock_read=None),
    ) as response:
        assert response.status == 200, await response.text()
        assert response.content_type == "text/event-stream"
        yield SseReader(response)
