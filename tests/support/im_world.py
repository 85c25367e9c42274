"""A running core for the IM tests: the real runtime (database of the test's backend, the session slapd),
the demo channels seeded, and quick ways to add people, crowds and raw counts.

People are added through the users repository, as a directory sign-in would store them; ``sign_in`` goes
through the real slapd for the demo users when a test needs the directory's own answer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import event, func, insert, select, update
from sqlalchemy.orm import InstrumentedAttribute

from intrablog.config import LdapConfig
from intrablog.domain.im import Delivery, DeliveryState
from intrablog.domain.model import DirectoryPerson, Role, User
from intrablog.runtime import Runtime, build_runtime
from intrablog.services.facade import Services
from intrablog.services.posts import PostDraft
from intrablog.storage.models import ChannelFollowRow, ChannelRow, DeliveryRow, OutboxRow, UserFollowRow, UserRow
from tests.support.app_fixtures import make_settings
from tests.support.storage_data import NOW


@dataclass
class StatementCount:
    count: int = 0


@dataclass
class World:
    runtime: Runtime

    @property
    def services(self) -> Services:
        return self.runtime.services

    async def person(self, username: str, *, xmpp: str | None = "", site_admin: bool = False) -> User:
        """A person as a directory sign-in stores them; ``xmpp=None`` for someone without an IM address."""
        address = f"{username}@example.com" if xmpp == "" else xmpp
        entry = DirectoryPerson(username, username.capitalize(), f"{username}@example.com", address)
        async with self.runtime.database.unit_of_work() as uow:
            user = await uow.users.upsert_from_directory(entry, is_site_admin=site_admin, now=NOW)
            await uow.commit()
        return user

    async def add_member(self, channel_name: str, user: User, role: Role = Role.MEMBER) -> None:
        """Private channels have no self-service join yet: membership as an admin would grant it."""
        async with self.runtime.database.unit_of_work() as uow:
            channel = await uow.channels.by_name(channel_name)
            assert channel is not None
            await uow.channels.set_membership(channel.id, user.id, role, NOW)
            await uow.commit()

    async def sign_in(self, username: str) -> User:
        return (await self.services.accounts.sign_in(username, f"{username}-pass")).user

    async def crowd(
        self, prefix: str, size: int, *, follow_channel: str | None = None, follow_user: User | None = None
    ) -> None:
        """``size`` people in a few bulk statements, optionally all following a channel or a person."""
        rows = [
            {
                "username": f"{prefix}{n:05d}",
                "display_name": f"{prefix} {n}",
                "xmpp_address": f"{prefix}{n:05d}@example.com",
                "active": True,
                "is_site_admin": False,
                "created_at": NOW,
            }
            for n in range(size)
        ]
        async with self.runtime.database.unit_of_work() as uow:
            await uow.session.execute(insert(UserRow), rows)
            ids = list(
                (await uow.session.execute(select(UserRow.id).where(UserRow.username.like(f"{prefix}%")))).scalars()
            )
            if follow_channel is not None:
                channel_id = (
                    await uow.session.execute(select(ChannelRow.id).where(ChannelRow.name == follow_channel))
                ).scalar_one()
                follows = [{"follower_id": i, "channel_id": channel_id, "created_at": NOW} for i in ids]
                await uow.session.execute(insert(ChannelFollowRow), follows)
            if follow_user is not None:
                people = [{"follower_id": i, "user_id": follow_user.id, "created_at": NOW} for i in ids]
                await uow.session.execute(insert(UserFollowRow), people)
            await uow.commit()

    async def deactivate(self, user: User) -> None:
        # The directory sync that will do this belongs to another issue; the effect is one column.
        async with self.runtime.database.unit_of_work() as uow:
            await uow.session.execute(update(UserRow).where(UserRow.id == user.id).values(active=False))
            await uow.commit()

    async def post(self, author: User, text: str, channel: str | None = None, in_reply_to: int | None = None) -> int:
        draft = PostDraft(text=text, channel=channel, in_reply_to=in_reply_to)
        return (await self.services.posts.create(author, draft)).id

    async def expand(self) -> int:
        """Expand the whole outbox; returns the rows processed."""
        total = 0
        while processed := await self.services.delivery.expand_outbox():
            total += processed
        return total

    async def deliveries_of(self, origin_id: str) -> dict[str, tuple[str, str]]:
        """Who got this item: {recipient username: (reason, state)}; fails if anyone got it twice."""
        statement = (
            select(UserRow.username, DeliveryRow.reason, DeliveryRow.state)
            .join(UserRow, UserRow.id == DeliveryRow.recipient_id)
            .where(DeliveryRow.origin_id == origin_id)
            .order_by(DeliveryRow.id)
        )
        async with self.runtime.database.unit_of_work() as uow:
            rows = (await uow.session.execute(statement)).all()
        found: dict[str, tuple[str, str]] = {}
        for row in rows:
            assert row.username not in found, f"{row.username} has two deliveries of {origin_id}"
            found[row.username] = (row.reason, row.state)
        return found

    async def count(self, table: type[DeliveryRow] | type[OutboxRow], *where: Any) -> int:
        async with self.runtime.database.unit_of_work() as uow:
            statement = select(func.count()).select_from(table).where(*where)
            return int((await uow.session.execute(statement)).scalar_one())

    async def state_of(self, delivery: Delivery) -> DeliveryState:
        async with self.runtime.database.unit_of_work() as uow:
            statement = select(DeliveryRow.state).where(DeliveryRow.id == delivery.id)
            return DeliveryState((await uow.session.execute(statement)).scalar_one())

    async def sent_at(self, delivery: Delivery) -> datetime | None:
        return await self._time(DeliveryRow.sent_at, delivery)

    async def receipt_at(self, delivery: Delivery) -> datetime | None:
        return await self._time(DeliveryRow.receipt_at, delivery)

    async def _time(self, column: InstrumentedAttribute[datetime | None], delivery: Delivery) -> datetime | None:
        async with self.runtime.database.unit_of_work() as uow:
            statement = select(column).where(DeliveryRow.id == delivery.id)
            value: datetime | None = (await uow.session.execute(statement)).scalar_one()
            return value

    @contextmanager
    def statements(self) -> Iterator[StatementCount]:
        """Counts the SQL statements sent to the database inside the block (a real engine event)."""
        counter = StatementCount()

        def count(*_: Any) -> None:
            counter.count += 1

        engine = self.runtime.database.engine.sync_engine
        event.listen(engine, "before_cursor_execute", count)
        try:
            yield counter
        finally:
            event.remove(engine, "before_cursor_execute", count)


@asynccontextmanager
async def open_world(database_url: str, ldap_config: LdapConfig, **settings: Any) -> AsyncIterator[World]:
    runtime = build_runtime(make_settings(database_url, ldap_config, **settings))
    try:
        await runtime.services.channels.seed()
        yield World(runtime)
    finally:
        await runtime.database.dispose()
