"""One transaction, with the repositories that work inside it."""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Self

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from intrablog.domain.acknowledgement_ports import AcknowledgementRepository
from intrablog.domain.directory_sync_ports import DirectorySyncRepository
from intrablog.domain.ports import (
    AuditRepository,
    BindingRepository,
    ChannelRepository,
    DeliveryRepository,
    DirectMessageRepository,
    FollowRepository,
    ImRepository,
    OutboxRepository,
    PostRepository,
    SessionRepository,
    UserRepository,
)
from intrablog.storage.errors import domain_error
from intrablog.storage.repositories.acknowledgements import SqlAcknowledgementRepository
from intrablog.storage.repositories.audit import SqlAuditRepository
from intrablog.storage.repositories.bindings import SqlBindingRepository
from intrablog.storage.repositories.channels import SqlChannelRepository
from intrablog.storage.repositories.deliveries import SqlDeliveryRepository
from intrablog.storage.repositories.directory_sync import SqlDirectorySyncRepository
from intrablog.storage.repositories.follows import SqlFollowRepository
from intrablog.storage.repositories.im_settings import SqlImRepository
from intrablog.storage.repositories.messages import SqlDirectMessageRepository
from intrablog.storage.repositories.outbox import SqlOutboxRepository
from intrablog.storage.repositories.posts import SqlPostRepository
from intrablog.storage.repositories.sessions import SqlSessionRepository
from intrablog.storage.repositories.users import SqlUserRepository


class SqlUnitOfWork:
    """``async with database.unit_of_work() as uow: ...; await uow.commit()``.

    Leaving the block without commit() rolls back. Database failures raised inside the block leave it as the
    product's errors (Conflict, Unavailable), chained to the original, so no layer above sees SQLAlchemy.
    """

    def __init__(self, session: AsyncSession, dialect_name: str, *, read_only: bool = False) -> None:
        # An AsyncSession connects lazily: building it (and the repositories) here costs no round trip.
        self._session = session
        self._read_only = read_only
        # Typed as the ports: mypy then checks that each implementation conforms to its Protocol.
        self.users: UserRepository = SqlUserRepository(session, dialect_name)
        self.channels: ChannelRepository = SqlChannelRepository(session, dialect_name)
        self.follows: FollowRepository = SqlFollowRepository(session, dialect_name)
        self.posts: PostRepository = SqlPostRepository(session)
        self.sessions: SessionRepository = SqlSessionRepository(session)
        self.outbox: OutboxRepository = SqlOutboxRepository(session, dialect_name)
        self.deliveries: DeliveryRepository = SqlDeliveryRepository(session, dialect_name)
        self.messages: DirectMessageRepository = SqlDirectMessageRepository(session)
        self.im: ImRepository = SqlImRepository(session, dialect_name)
        self.directory_sync: DirectorySyncRepository = SqlDirectorySyncRepository(session)
        self.bindings: BindingRepository = SqlBindingRepository(session, dialect_name)
        self.acknowledgements: AcknowledgementRepository = SqlAcknowledgementRepository(session, dialect_name)
        self.audit: AuditRepository = SqlAuditRepository(session)

    @property
    def session(self) -> AsyncSession:
        """For storage-side additions (e.g. the outbox) that must join this transaction."""
        return self._session

    async def commit(self) -> None:
        if self._read_only:
            # Its statements run in autocommit (database.reading): a write there would not wait for this.
            raise RuntimeError("a reading unit of work cannot commit; use database.unit_of_work() to write")
        try:
            await self._session.commit()
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            error = domain_error(exc)
            if error is None:
                raise
            raise error from exc

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            # Shielded: a cancelled request must still hand its connection back to the pool, rolled back.
            await asyncio.shield(self._session.close())
        except (SQLAlchemyError, OSError, TimeoutError) as close_error:
            if exc is None:
                error = domain_error(close_error)
                if error is None:
                    raise
                raise error from close_error
            # The failure already on its way out is the one worth reporting.
        if exc is not None:
            error = domain_error(exc)
            if error is not None:
                raise error from exc
