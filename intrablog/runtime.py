"""Composition root: config → database → directory → event bus → services → (bridges) → web.

Adapters are built up front (they connect lazily); everything that starts or holds a resource does so in
the app's ``cleanup_ctx``, in that order, so shutdown runs in reverse and nothing leaks.

On SQLite there is one node: the event bus is in memory and the bridge (when enabled) simply runs. On
PostgreSQL several nodes may share the database: events cross them through LISTEN/NOTIFY, and of the nodes
with the bridge enabled exactly one runs it, the holder of an advisory lock; the others wait to take over.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aiohttp import web

from bridges.xmpp.lifecycle import run_bridge, running_bridge
from intrablog.config import Settings
from intrablog.directory.ldap import LdapDirectory
from intrablog.domain.event_ports import EventBus
from intrablog.errors import Conflict
from intrablog.services.context import Policy, ServiceContext
from intrablog.services.events import InMemoryEventBus
from intrablog.services.facade import Services
from intrablog.services.node import BridgeRole, NodeStatus
from intrablog.storage.database import SqlDatabase
from intrablog.storage.leader_lock import BRIDGE_LOCK_KEY, AdvisoryLock
from intrablog.storage.migrate import migrate
from intrablog.storage.notify_bus import PostgresEventBus
from intrablog.web.app import create_app
from intrablog.web.keys import WebSettings

log = logging.getLogger(__name__)

_background: set[asyncio.Task[Any]] = set()


def start_background(coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
    """Run ``coro`` as a named task that is kept alive and whose failure is logged, never lost."""
    task = asyncio.create_task(coro, name=name)
    _background.add(task)

    def _done(finished: asyncio.Task[Any]) -> None:
        _background.discard(finished)
        if not finished.cancelled() and finished.exception() is not None:
            log.error("background task %s failed", name, exc_info=finished.exception())

    task.add_done_callback(_done)
    return task


def policy_from(settings: Settings) -> Policy:
    return Policy(
        max_post_chars=settings.posts.max_post_chars,
        token_ttl_hours=settings.sessions.token_ttl_hours,
        site_admins=frozenset(name.lower() for name in settings.admins),
        admin_groups=frozenset(group.strip().lower() for group in settings.admin_groups),
        seeded_channels=tuple(settings.channels),
        public_url=settings.server.public_url,
        ack_reminder_delay_minutes=settings.announcements.reminder_delay_minutes,
    )


def web_settings_from(settings: Settings) -> WebSettings:
    configured = settings.server.secret_key
    if configured is None:
        log.warning("server.secret_key is not set: CSRF tokens will not survive a restart or span nodes")
    secret = configured.get_secret_value().encode() if configured else secrets.token_bytes(32)
    return WebSettings(
        public_url=settings.server.public_url,
        cookie_name=settings.sessions.cookie_name,
        csrf_cookie_name=f"{settings.sessions.cookie_name}_csrf",
        secret_key=secret,
        secure_cookies=settings.server.public_url.startswith("https://"),
        max_post_chars=settings.posts.max_post_chars,
        max_page_size=Policy().max_page_size,
        token_ttl_seconds=int(settings.sessions.token_ttl_hours * 3600),
    )


@dataclass
class Runtime:
    settings: Settings
    database: SqlDatabase
    directory: LdapDirectory
    events: EventBus
    services: Services
    # The in-process bus: ``events`` itself on SQLite, the one the NOTIFY bus wraps on PostgreSQL.
    local_events: InMemoryEventBus

    @property
    def node(self) -> NodeStatus:
        return self.services.node


def build_runtime(settings: Settings) -> Runtime:
    database = SqlDatabase(settings.database)
    directory = LdapDirectory(settings.ldap)
    node = NodeStatus()
    local = InMemoryEventBus()
    events: EventBus = local
    if not settings.database.is_sqlite:
        events = PostgresEventBus(settings.database.url, local, database, node.node_id)
    context = ServiceContext(database=database, directory=directory, events=events, policy=policy_from(settings))
    return Runtime(settings, database, directory, events, Services(context, node), local)


def build_app(settings: Settings) -> web.Application:
    runtime = build_runtime(settings)
    app = create_app(runtime.services, web_settings_from(settings))

    async def database_lifecycle(_: web.Application) -> AsyncIterator[None]:
        if settings.database.auto_migrate:
            await migrate(settings.database.url)
        try:
            seeded = await runtime.services.channels.seed()
        except Conflict:
            # Another node, starting at the same moment, created one of them first: it exists now.
            seeded = await runtime.services.channels.seed()
        if seeded:
            log.info("created configured channels: %s", ", ".join(seeded))
        yield
        await runtime.database.dispose()

    app.cleanup_ctx.append(database_lifecycle)
    events = runtime.events
    if isinstance(events, PostgresEventBus):
        bus = events

        async def event_bus_lifecycle(_: web.Application) -> AsyncIterator[None]:
            await bus.start()
            yield
            await bus.stop()

        app.cleanup_ctx.append(event_bus_lifecycle)
    if settings.ldap.sync_interval_minutes > 0:
        # Every node may run it: a round syncs unless another node is syncing or has just synced, so the nodes
        # together sync about once an interval. A failed sync is recorded and retried at the next round.
        interval = timedelta(minutes=settings.ldap.sync_interval_minutes)
        sync_round = functools.partial(runtime.services.directory_sync.run_scheduled, interval)
        sync = every(interval.total_seconds(), sync_round, "directory sync")
        app.cleanup_ctx.append(background(sync, "directory-sync"))
    if settings.announcements.reminder_delay_minutes > 0:
        # Every node may run it: each announcement's reminder is claimed in the database, so it goes out once.
        check_every = settings.announcements.reminder_check_seconds
        reminders = every(check_every, runtime.services.announcements.send_due_reminders, "acknowledgement reminders")
        app.cleanup_ctx.append(background(reminders, "ack-reminders"))
    if settings.xmpp.enabled and settings.database.is_sqlite:
        # After the database (the bridge drains the outbox), before the web's own start-up; stopped first.
        def bridge_lifecycle(_: web.Application) -> AsyncIterator[None]:
            runtime.node.bridge = BridgeRole.LEADER  # the only node
            return run_bridge(runtime.services, runtime.events, settings.xmpp, settings.server.public_url)

        app.cleanup_ctx.append(bridge_lifecycle)
    elif settings.xmpp.enabled:
        runtime.node.bridge = BridgeRole.STANDBY
        # Cancelling stops a running bridge gracefully, then the lock is released.
        app.cleanup_ctx.append(background(lambda: lead_bridge(runtime), "bridge-leadership"))
    return app


async def lead_bridge(runtime: Runtime) -> None:
    """Contend for the bridge lock; while this node holds it, run the bridge; when the hold is lost (the
    database connection ended or stopped answering), stop the bridge at once and contend again."""
    settings = runtime.settings
    lock = AdvisoryLock(
        settings.database.url,
        BRIDGE_LOCK_KEY,
        f"bridge {runtime.node.node_id}",
        retry_seconds=settings.xmpp.leader_retry_seconds,
        timeout_seconds=settings.xmpp.leader_timeout_seconds,
    )
    try:
        while True:
            runtime.node.bridge = BridgeRole.STANDBY
            await lock.acquire()
            runtime.node.bridge = BridgeRole.LEADER
            log.info("this node (%s) runs the XMPP bridge", runtime.node.node_id)
            try:
                async with running_bridge(runtime.services, runtime.events, settings.xmpp, settings.server.public_url):
                    await lock.wait_lost()
                log.error("lost the bridge lock with the database connection; the bridge stopped here")
            except Exception:  # a bridge that cannot start must not spin: give another node its chance
                log.exception("the XMPP bridge failed on this node; giving the lock up")
                await lock.release()
                await asyncio.sleep(settings.xmpp.leader_retry_seconds)
            finally:
                runtime.node.bridge = BridgeRole.STANDBY
                await lock.release()
    finally:
        await lock.close()


def every(seconds: float, job: Callable[[], Awaitable[object]], what: str) -> Callable[[], Coroutine[Any, Any, None]]:
    """A schedule: run ``job`` every ``seconds``, the first time one interval after start.

    A failed round (a bug, the database away) is logged and must not end the schedule: the next one runs.
    """

    async def schedule() -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await job()
            except Exception:
                log.exception("%s failed; trying again in %.0f s", what, seconds)

    return schedule


def background(
    work: Callable[[], Coroutine[Any, Any, Any]], name: str
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context running ``work`` as a named background task while the app runs."""

    async def lifecycle(_: web.Application) -> AsyncIterator[None]:
        task = start_background(work(), name)
        yield
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    return lifecycle


async def run_with_runtime(settings: Settings, work: Callable[[Runtime], Awaitable[int]]) -> int:
    """Run a CLI job against the adapters, disposing of them afterwards."""
    runtime = build_runtime(settings)
    events = runtime.events
    if isinstance(events, PostgresEventBus):
        await events.start(listen=False)  # what the job publishes (a sync's membership changes) reaches the nodes
    try:
        return await work(runtime)
    finally:
        if isinstance(events, PostgresEventBus):
            await events.stop()
        await runtime.database.dispose()
