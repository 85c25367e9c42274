"""What the live hub sends: open streams, and the bytes of their events.

A post's event is built at most once per variant (with or without a delete button, since that is all that
differs between readers) and per event id, and the same bytes go to every stream that gets it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from intrablog.domain.im import DirectMessage
from intrablog.domain.model import Post, Role, User
from intrablog.services.live import LiveKind, LiveScope, PostReaders

IndexKey = tuple[LiveKind, int | str]
# An event waiting to be sent: its item's id, and how to build its bytes for a given event id.
Pending = tuple[int, Callable[[int], bytes]]


@dataclass(frozen=True)
class Renderers:
    """HTML for one item exactly as the pages show it (templates live with the pages)."""

    post: Callable[[Post, bool], str]
    message: Callable[[DirectMessage], str]


def conversation_key(one: int, other: int) -> IndexKey:
    """Both people of a conversation share one key, whichever of them is reading."""
    low, high = sorted((one, other))
    return ("conversation", f"{low}-{high}")


class Stream:
    """One open page: its reader, what it shows, and how far it has been sent."""

    __slots__ = ("caught_up", "closed", "last_id", "pending", "request", "response", "scope", "token", "viewer")

    def __init__(
        self,
        request: web.Request,
        response: web.StreamResponse,
        viewer: User,
        token: str,
        scope: LiveScope,
        last_id: int,
    ) -> None:
        self.request = request
        self.response = response
        self.viewer = viewer
        self.token = token
        self.scope = scope
        # The Last-Event-ID the page will send if it reconnects: the highest item id sent so far.
        self.last_id = last_id
        # Events matched while the stream is still catching up, sent after it; None once it is live.
        self.pending: list[Pending] | None = []
        self.caught_up: set[int] = set()
        self.closed = asyncio.Event()

    @property
    def index_key(self) -> IndexKey:
        if self.scope.kind == "mentions":
            return ("mentions", self.viewer.username)
        if self.scope.kind == "conversation":
            return conversation_key(self.viewer.id, self.scope.key)
        return (self.scope.kind, self.scope.key)


def item_frame(event: str, item_id: int, html: str, event_id: int) -> bytes:
    data = json.dumps({"id": str(item_id), "html": html}, separators=(",", ":"))
    return f"id: {event_id}\nevent: {event}\ndata: {data}\n\n".encode()


def plain_frame(event: str, payload: dict[str, str]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(payload, separators=(',', ':'))}\n\n".encode()


class PostFrames:
    """The bytes of one post's event, built on first use per (variant, event id)."""

    def __init__(self, post: Post, render: Callable[[Post, bool], str]) -> None:
        self._post = post
        self._render = render
        self._html: dict[bool, str] = {}
        self._bytes: dict[tuple[bool, int], bytes] = {}
        self.size = 0

    def get(self, can_delete: bool, event_id: int) -> bytes:
        key = (can_delete, event_id)
        frame = self._bytes.get(key)
        if frame is None:
            if can_delete not in self._html:
                self._html[can_delete] = self._render(self._post, can_delete)
            frame = item_frame("post", self._post.id, self._html[can_delete], event_id)
            self._bytes[key] = frame
            self.size = max(self.size, len(frame))
        return frame


def can_delete(viewer: User, post: Post, readers: PostReaders, page_role: Role | None) -> bool:
    # rules.can_delete_post, with the membership the hub knows without asking storage per reader: the
    # private channel's member list, or the reader's role on the channel page the stream belongs to.
    if post.author_id == viewer.id or viewer.is_site_admin:
        return True
    role = readers.role_of(viewer) or page_role
    return role is not None and role.at_least(Role.ADMIN)
