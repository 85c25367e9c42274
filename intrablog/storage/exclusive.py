"""One holder of a job at a time across the nodes of one PostgreSQL: the ExclusiveSections port.

A section is a session-level advisory lock (``pg_try_advisory_lock``) taken on a connection of its own, held
for the whole block and given up by closing that connection, which releases it however the block ended.

Why not ``pg_try_advisory_xact_lock`` in the job's own transaction: the directory sync lists the directory
before its transaction and records a failed run in another one. The lock must cover all of it, so that one node
asks the directory (not every node, each time), one node records a failure, and the holder's "did a sync just
finish?" check sees the previous holder's run committed. Holding a transaction open across the listing instead
would pin a pooled connection and a snapshot for as long as the directory takes to answer.

A holder that hangs with its socket open (a blocked event loop, SIGSTOP) must not keep the job from every node
for ever: while the block runs the connection answers a query every ``timeout / 6`` seconds and carries
``idle_session_timeout = timeout``, so the server ends a silent holder's session; a vanished machine's session
is ended by the server-side keepalives (pg_connections). Should the hung node resume, it finishes its own job
meanwhile: for the directory sync, at worst one extra sync, each of them one whole transaction.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from intrablog.errors import Unavailable
from intrablog.storage.errors import UNAVAILABLE
from intrablog.storage.pg_connections import PG_ERRORS, PgConnection, close_quietly, connect, lock_settings

log = logging.getLogger(__name__)

SECTION_TIMEOUT_S = 30.0


def job_key(job: str) -> int:
    """The advisory lock key of a job: the same in every process; a signed 64-bit integer, as PostgreSQL's."""
    digest = hashlib.blake2b(f"intrablog {job}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class PgSections:
    """Implements the ExclusiveSections port on PostgreSQL (``SqlDatabase`` delegates to it)."""

    def __init__(self, url: str, *, timeout_seconds: float = SECTION_TIMEOUT_S) -> None:
        self._url = url
        self._timeout = timeout_seconds
        # Several pings within the timeout: a late one (a busy event loop) must not lose the section.
        self._heartbeat = timeout_seconds / 6

    @asynccontextmanager
    async def try_exclusive(self, job: str) -> AsyncIterator[bool]:
        connection = await self._connect(job)
        try:
            if not await self._lock(connection, "SELECT pg_try_advisory_lock($1)", job, self._timeout):
                yield False
                return
            async with self._kept(connection, job):
                yield True
        finally:
            await close_quietly(connection)

    @asynccontextmanager
    async def exclusive(self, job: str, waiting: Callable[[], None]) -> AsyncIterator[None]:
        connection = await self._connect(job)
        try:
            if not await self._lock(connection, "SELECT pg_try_advisory_lock($1)", job, self._timeout):
                waiting()
                # As long as the holder takes: its session ends when it is done, dies or stops answering.
                await self._lock(connection, "SELECT pg_advisory_lock($1)", job, None)
            async with self._kept(connection, job):
                yield
        finally:
            await close_quietly(connection)

    async def _connect(self, job: str) -> PgConnection:
        try:
            # Named in pg_stat_activity: "intrablog directory sync lock" is the node syncing now.
            return await connect(self._url, f"{job} lock", lock_settings(self._timeout))
        except PG_ERRORS as exc:
            raise Unavailable(UNAVAILABLE) from exc

    async def _lock(self, connection: PgConnection, query: str, job: str, answer_within: float | None) -> bool:
        try:
            return bool(await connection.fetchval(query, job_key(job), timeout=answer_within))
        except PG_ERRORS as exc:
            raise Unavailable(UNAVAILABLE) from exc

    @asynccontextmanager
    async def _kept(self, connection: PgConnection, job: str) -> AsyncIterator[None]:
        heartbeat = asyncio.create_task(self._answer(connection, job), name=f"{job} lock heartbeat")
        try:
            yield
        finally:
            heartbeat.cancel()
            await asyncio.gather(heartbeat, return_exceptions=True)

    async def _answer(self, connection: PgConnection, job: str) -> None:
        """Keep the session from looking hung while the block runs."""
        while True:
            await asyncio.sleep(self._heartbeat)
            try:
                await connection.fetchval("SELECT 1", timeout=self._heartbeat)
            except PG_ERRORS as exc:
                # The block goes on (stopping a sync halfway would help nobody); the log says what may follow.
                log.error("the %s lock's connection failed (%s); another node may run it meanwhile", job, exc)
                return
