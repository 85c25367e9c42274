"""Leadership among the nodes of one PostgreSQL database: a session-level advisory lock.

``pg_try_advisory_lock(key)`` is taken on a connection of its own and held for as long as the node leads;
PostgreSQL releases it when that session ends, however it ends:

- the node exits or is SIGKILLed: its kernel closes the socket, the server sees it at once;
- the node hangs (a blocked event loop, SIGSTOP) while its socket stays open: the leader runs a query every
  ``retry_seconds``; the session carries ``idle_session_timeout = timeout_seconds``, so once the queries
  stop the server ends the session itself;
- the node's machine vanishes or the network is cut (no FIN, no RST ever arrives): the session's
  server-side TCP keepalives and ``tcp_user_timeout`` end it after about ``timeout_seconds``.

Contenders try again every ``retry_seconds``. A leader that cannot reach PostgreSQL for a query (the lock
may already be gone) must stop leading at once: ``wait_lost`` returns and the connection is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from intrablog.storage.pg_connections import PgConnection, close_quietly, connect, lock_settings

log = logging.getLogger(__name__)

# Any constant, the same in every process ("1B7A" for intrablog, then "b21d9e" for bridge).
BRIDGE_LOCK_KEY = 0x1B7A_B21D9E


class AdvisoryLock:
    def __init__(self, url: str, key: int, purpose: str, *, retry_seconds: float, timeout_seconds: float) -> None:
        if timeout_seconds <= 2 * retry_seconds:
            raise ValueError("timeout_seconds must exceed twice retry_seconds (the leader's query interval)")
        self._url = url
        self._key = key
        self._purpose = purpose
        self._retry = retry_seconds
        self._timeout = timeout_seconds
        self._connection: PgConnection | None = None
        self._ended = asyncio.Event()  # the connection ended (set by asyncpg's termination listener)
        self._held = False
        self._failures = 0

    @property
    def held(self) -> bool:
        return self._held

    async def acquire(self) -> None:
        """Wait until this node holds the lock (trying every ``retry_seconds``)."""
        while not self._held:
            try:
                connection = await self._connected()
                self._held = bool(await connection.fetchval("SELECT pg_try_advisory_lock($1)", self._key))
                self._failures = 0
            except Exception as exc:  # PG_ERRORS, or a surprise: contending must go on either way
                self._failures += 1
                # Once, then every minute or so: a database outage must not flood the log.
                if self._failures == 1 or self._failures % max(1, int(60 / self._retry)) == 0:
                    log.warning("cannot contend for the %s lock (%s); trying again", self._purpose, exc)
                await self._drop_connection()
            if not self._held:
                await asyncio.sleep(self._retry)

    async def wait_lost(self) -> None:
        """Return once the lock can no longer be trusted: its connection ended or a query went unanswered.

        The leader's queries here are also what keeps ``idle_session_timeout`` from ending the session.
        """
        connection = self._connection
        while self._held and connection is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ended.wait(), self._retry)
                break
            try:
                await connection.fetchval("SELECT 1", timeout=self._retry)
            except Exception as exc:  # PG_ERRORS, or a surprise: the hold cannot be trusted either way
                log.error("the %s lock's connection does not answer (%s)", self._purpose, exc)
                break
        # Whatever happened, make sure the server ends the session (and the lock with it) before anyone acts.
        self._held = False
        await self._drop_connection()

    async def release(self) -> None:
        """Give the lock up (the connection stays, to contend again)."""
        if not self._held:
            return
        self._held = False
        connection = self._connection
        try:
            if connection is not None:
                await connection.fetchval("SELECT pg_advisory_unlock($1)", self._key, timeout=self._retry)
        except Exception:  # PG_ERRORS or a surprise: ending the session releases it too
            await self._drop_connection()

    async def close(self) -> None:
        await self.release()
        await self._drop_connection()

    async def _connected(self) -> PgConnection:
        if self._connection is not None and not self._connection.is_closed():
            return self._connection
        self._ended = asyncio.Event()
        ended = self._ended
        connection = await connect(self._url, f"{self._purpose} lock", lock_settings(self._timeout))
        connection.add_termination_listener(lambda _connection: ended.set())
        self._connection = connection
        return connection

    async def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        await close_quietly(connection)
