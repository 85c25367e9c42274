"""All use cases behind one object, the only thing the faces (web, CLI, bridges) are handed."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass

from intrablog.errors import Unavailable
from intrablog.services.accounts import AccountService
from intrablog.services.announcements import AnnouncementService
from intrablog.services.audit import AuditService
from intrablog.services.channels import ChannelService
from intrablog.services.context import ServiceContext
from intrablog.services.delivery import DeliveryService
from intrablog.services.directory_sync import DirectorySyncService
from intrablog.services.group_roles import GroupBindingService
from intrablog.services.im import ImService
from intrablog.services.messages import MessageService
from intrablog.services.node import BridgeRole, NodeStatus
from intrablog.services.people import PeopleService
from intrablog.services.posts import PostService
from intrablog.services.timelines import TimelineService

HEALTH_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Health:
    database: str
    directory: str
    node: str = ""
    bridge: BridgeRole = BridgeRole.DISABLED

    @property
    def ok(self) -> bool:
        return self.database == "ok" and self.directory == "ok"


class Services:
    def __init__(self, ctx: ServiceContext, node: NodeStatus | None = None) -> None:
        self.context = ctx
        self.node = node if node is not None else NodeStatus()
        self.accounts = AccountService(ctx)
        self.channels = ChannelService(ctx)
        self.people = PeopleService(ctx)
        self.posts = PostService(ctx)
        self.timelines = TimelineService(ctx)
        self.im = ImService(ctx)
        self.messages = MessageService(ctx)
        self.delivery = DeliveryService(ctx)
        self.directory_sync = DirectorySyncService(ctx)
        self.group_bindings = GroupBindingService(ctx)
        self.announcements = AnnouncementService(ctx)
        self.audit = AuditService(ctx)

    async def health(self) -> Health:
        database, directory = await asyncio.gather(
            _probe(self.context.database.ping()), _probe(self.context.directory.ping())
        )
        return Health(database=database, directory=directory, node=self.node.node_id, bridge=self.node.bridge)


async def _probe(check: Awaitable[None]) -> str:
    try:
        await asyncio.wait_for(check, HEALTH_TIMEOUT_S)
    except Unavailable as exc:
        return f"unavailable: {exc.detail}"
    except TimeoutError:
        return "unavailable: no answer in time"
    return "ok"
