"""The live hub: every open page (an SSE stream) receives the posts it shows, as they are made.

One hub per process holds one subscription to the event bus and an index of open streams by what they
show (a channel, an author, a thread, a reader's mentions; home streams by reader). Each new post is
matched once: who may read it is decided once per post (``LiveService.audience``), its HTML is rendered at
most twice (with and without a delete button) and the same bytes are written to every matching stream,
straight from the hub's task. A write never waits: a stream whose socket has more than
``_MAX_BACKLOG_BYTES`` unsent is dropped, and its page reconnects and catches up from storage.

Event ids are post ids, so a page that reconnects sends ``Last-Event-ID`` and is caught up from storage
with its reader's rights of the moment. A stream opening or resuming registers *before* it reads storage
and holds the posts pushed meanwhile, then sends those the catch-up did not: nothing falls in between.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from intrablog.domain.events import AckReminderDue, DirectMessageSent, DomainEvent, PostCreated, PostDeleted
from intrablog.domain.ids import NODE_BITS, SEQUENCE_BITS
from intrablog.domain.im import DirectMessage
from intrablog.domain.model import Post, User
from intrablog.services.live import LiveScope, LiveService, PostReaders
from intrablog.web.keys import WebSettings
from intrablog.web.live_frames import (
    IndexKey,
    Pending,
    PostFrames,
    Renderers,
    Stream,
    can_delete,
    conversation_key,
    item_frame,
    plain_frame,
)

log = logging.getLogger("intrablog.web.live")

# Below asyncio's 64 KiB high-water mark: a write then never has to wait for the socket to drain.
_MAX_BACKLOG_BYTES = 32 * 1024
_HEARTBEAT = b": keep-alive\n\n"
_ID_SHIFT = NODE_BITS + SEQUENCE_BITS  # post ids carry milliseconds above this bit
SSE_HEADERS = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-store",
    # Reverse proxies (nginx) must pass each event on at once rather than buffer the response.
    "X-Accel-Buffering": "no",
}


@dataclass
class HubStats:
    opened: int = 0
    dropped: int = 0
    resumed: int = 0
    # Of those, reconnects that named the last event they had (the browser's automatic resume).
    resumed_by_last_event_id: int = 0
    caught_up: int = 0
    pushed: int = 0
    # The last new post: from the event to its last write, and the size of its frame (for the benchmark).
    last_push_seconds: float = 0.0
    last_frame_bytes: int = 0


class LiveHub:
    def __init__(self, live: LiveService, settings: WebSettings, render: Renderers) -> None:
        self.live = live
        # Read at each use, so a test may shorten the heartbeat before the app starts.
        self.settings = settings
        self._render = render
        self._index: dict[IndexKey, set[Stream]] = {}
        self._home: dict[int, set[Stream]] = {}
        self._streams: set[Stream] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self.stats = HubStats()

    @property
    def stream_count(self) -> int:
        return len(self._streams)

    # -- lifecycle ----------------------------------------------------------------------------------------

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._consume(), name="live-hub-events"),
            asyncio.create_task(self._heartbeat(), name="live-hub-heartbeat"),
        ]

    async def stop(self) -> None:
        self.close_all()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def _consume(self) -> None:
        while True:
            subscription = self.live.subscribe()
            try:
                async for event in subscription:
                    try:
                        await self._handle(event)
                    except Exception:
                        # Some stream may have missed this post: end them all; each page resumes from storage.
                        log.exception("live dispatch failed; closing every stream so that pages catch up")
                        self.close_all()
            finally:
                subscription.close()
            # The bus dropped this subscription because it fell behind: same remedy.
            log.warning("live hub fell behind the event bus; closing every stream so that pages catch up")
            self.close_all()

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.settings.live_heartbeat_seconds)
            for stream in list(self._streams):
                if stream.pending is None:
                    await self._write(stream, _HEARTBEAT)

    # -- streams ------------------------------------------------------------------------------------------

    def open(
        self,
        request: web.Request,
        response: web.StreamResponse,
        viewer: User,
        token: str,
        scope: LiveScope,
        last_id: int,
    ) -> Stream:
        stream = Stream(request, response, viewer, token, scope, last_id)
        self._streams.add(stream)
        if scope.kind == "home":
            self._home.setdefault(viewer.id, set()).add(stream)
        else:
            self._index.setdefault(stream.index_key, set()).add(stream)
        self.stats.opened += 1
        return stream

    def close(self, stream: Stream) -> None:
        if stream not in self._streams:
            return
        self._streams.discard(stream)
        if stream.scope.kind == "home":
            homes = self._home.get(stream.viewer.id)
            if homes is not None:
                homes.discard(stream)
                if not homes:
                    del self._home[stream.viewer.id]
                    self.live.forget_reader(stream.viewer.id)
        else:
            members = self._index.get(stream.index_key)
            if members is not None:
                members.discard(stream)
                if not members:
                    del self._index[stream.index_key]
        stream.closed.set()

    def close_all(self) -> None:
        for stream in list(self._streams):
            self.close(stream)

    def close_session(self, token: str) -> None:
        for stream in [s for s in self._streams if s.token == token]:
            self.close(stream)

    def _drop(self, stream: Stream) -> None:
        self.stats.dropped += 1
        self.close(stream)

    async def _write(self, stream: Stream, data: bytes) -> bool:
        transport = stream.request.transport
        if transport is None or transport.is_closing() or transport.get_write_buffer_size() > _MAX_BACKLOG_BYTES:
            self._drop(stream)
            return False
        try:
            await stream.response.write(data)
        except (ConnectionError, RuntimeError):
            self._drop(stream)
            return False
        return True

    # -- catching up and going live -------------------------------------------------------------------------

    async def catch_up(self, stream: Stream, after: int) -> None:
        """Send what the page missed since ``after`` (less the resume margin), oldest first."""
        self.stats.resumed += 1
        since = max(after - (self.settings.live_resume_margin_ms << _ID_SHIFT), 0)
        limit = self.settings.live_catch_up_limit
        frames: list[Pending] = []
        if stream.scope.kind == "conversation":
            messages = await self.live.catch_up_messages(stream.viewer, stream.scope, since, limit)
            frames = [(message.id, self._message_frame(message)) for message in messages.items]
            complete = messages.complete
        else:
            posts = await self.live.catch_up(stream.viewer, stream.scope, since, limit)
            deletable = await self.live.deletable(stream.viewer, posts.items)
            frames = [(post.id, self._post_frame(post, post.id in deletable)) for post in posts.items]
            complete = posts.complete
        for item_id, build in frames:
            if not await self._send(stream, item_id, build):
                return
            stream.caught_up.add(item_id)
            self.stats.caught_up += 1
        if not complete:
            await self._write(stream, plain_frame("gap", {"reason": "more than a page can catch up"}))

    async def go_live(self, stream: Stream) -> None:
        """Send what was pushed during the catch-up (unless the catch-up had it), then receive pushes directly."""
        while stream.pending:
            item_id, build = stream.pending.pop(0)
            if item_id not in stream.caught_up and not await self._send(stream, item_id, build):
                return
        # No await between the emptiness check above and this line: nothing can slip in between.
        stream.pending = None
        stream.caught_up = set()

    def _post_frame(self, post: Post, deletable: bool) -> Callable[[int], bytes]:
        return lambda event_id: item_frame("post", post.id, self._render.post(post, deletable), event_id)

    def _message_frame(self, message: DirectMessage) -> Callable[[int], bytes]:
        return lambda event_id: item_frame("message", message.id, self._render.message(message), event_id)

    async def _send(self, stream: Stream, item_id: int, build: Callable[[int], bytes]) -> bool:
        """Write one item's event; its id (the page's Last-Event-ID) never goes back."""
        event_id = max(stream.last_id, item_id)
        if not await self._write(stream, build(event_id)):
            return False
        stream.last_id = event_id
        return True

    async def _offer(self, stream: Stream, item_id: int, build: Callable[[int], bytes]) -> None:
        if stream.closed.is_set():
            return
        if stream.pending is not None:
            stream.pending.append((item_id, build))
        elif await self._send(stream, item_id, build):
            self.stats.pushed += 1

    # -- dispatch -------------------------------------------------------------------------------------------

    async def _handle(self, event: DomainEvent) -> None:
        self.live.observe(event)
        if isinstance(event, PostCreated):
            await self._push(event.post)
        elif isinstance(event, PostDeleted):
            await self._push_deletion(event)
        elif isinstance(event, AckReminderDue):
            await self._remind(event)
        elif isinstance(event, DirectMessageSent):
            message = event.message
            # Only the conversation's two people hold streams under its key.
            for stream in list(self._index.get(conversation_key(message.sender_id, message.recipient_id), ())):
                await self._offer(stream, message.id, self._message_frame(message))

    async def _push(self, post: Post) -> None:
        started = time.perf_counter()
        keys: list[IndexKey] = [("person", post.author_id), ("thread", post.thread_root)]
        if post.channel_id is not None:
            keys.append(("channel", post.channel_id))
        keys.extend(("mentions", username) for username in post.mentions)
        candidates = [stream for key in keys for stream in self._index.get(key, ())]
        if not candidates and not self._home:
            return
        readers = await self.live.readers(post)
        frames = PostFrames(post, self._render.post)
        for stream in candidates:
            if readers.can_read(stream.viewer):
                await self._deliver(stream, post, frames, readers)
        for streams in list(self._home.values()):
            viewer = next(iter(streams)).viewer
            if readers.can_read(viewer) and await self.live.in_home(viewer, post):
                for stream in list(streams):
                    await self._deliver(stream, post, frames, readers)
        self.stats.last_push_seconds = time.perf_counter() - started
        self.stats.last_frame_bytes = frames.size

    async def _deliver(self, stream: Stream, post: Post, frames: PostFrames, readers: PostReaders) -> None:
        deletable = can_delete(stream.viewer, post, readers, stream.scope.role)
        await self._offer(stream, post.id, lambda event_id: frames.get(deletable, event_id))

    async def _remind(self, event: AckReminderDue) -> None:
        """The reminder round of an announcement, to every open page of those who have not acknowledged it.

        A notice, not an item: it has no event id (a page that reconnects shows the home page's list of what
        waits instead), and a stream still catching up simply misses it.
        """
        reminded = set(event.user_ids)
        frame = plain_frame("reminder", {"id": str(event.post_id), "url": f"/posts/{event.post_id}"})
        for stream in [s for s in self._streams if s.viewer.id in reminded and s.pending is None]:
            await self._write(stream, frame)

    async def _push_deletion(self, event: PostDeleted) -> None:
        # Only the id travels, and only to readers who could read the post; a page without it ignores it.
        everyone = True
        members: set[str] = set()
        if event.channel_id is not None:
            readers = await self.live.channel_readers(event.channel_id)
            everyone, members = readers.everyone, set(readers.roles)
        frame = plain_frame("delete", {"id": str(event.post_id)})
        for stream in list(self._streams):
            viewer = stream.viewer
            if (everyone or viewer.is_site_admin or viewer.username in members) and stream.pending is None:
                await self._write(stream, frame)
