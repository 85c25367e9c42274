"""Server-Sent Events endpoints, one per kind of page: home, mentions, channel, person, thread, conversation.

The hub (``live_hub``) does the matching and the writing; here a request becomes a stream: checked like the
page it belongs to (what the reader may not see is 404), registered, caught up from its ``Last-Event-ID``
(or the ``after`` the page was rendered with), then left open until the hub or the client ends it.
"""

from __future__ import annotations

import logging

from aiohttp import web

from intrablog.domain.ids import parse_id
from intrablog.errors import IntrablogError
from intrablog.services.live import LiveKind
from intrablog.web.inputs import path_text
from intrablog.web.keys import LIVE, REQUEST_ID, WEB_SETTINGS
from intrablog.web.live_frames import Renderers, plain_frame
from intrablog.web.live_hub import SSE_HEADERS, LiveHub
from intrablog.web.middlewares import identity

log = logging.getLogger("intrablog.web.live")

LIVE_HUB = web.AppKey("live_hub", LiveHub)


def _resume_point(request: web.Request) -> int | None:
    """The newest post the page has: its Last-Event-ID on a reconnect, else the ``after`` it was rendered with."""
    points = [parse_id(value) for value in (request.headers.get("Last-Event-ID", ""), request.query.get("after", ""))]
    known = [point for point in points if point is not None]
    return max(known) if known else None


async def _serve(request: web.Request, kind: LiveKind, name: str = "") -> web.StreamResponse:
    who = identity(request)
    hub = request.app[LIVE_HUB]
    scope = await request.app[LIVE].open(who.user, kind, name)
    resume = _resume_point(request)
    response = web.StreamResponse(headers={**SSE_HEADERS, "X-Request-ID": request[REQUEST_ID]})
    # A stream's connection is never reused for another request: when it ends, the page reconnects afresh.
    response.force_close()
    # Registered before anything is sent or read: posts pushed from here on wait in the stream's pending list.
    stream = hub.open(request, response, who.user, who.token, scope, resume or 0)
    try:
        await response.prepare(request)
        await response.write(f"retry: {hub.settings.live_retry_ms}\n\n".encode())
        if resume is not None:
            if "Last-Event-ID" in request.headers:
                hub.stats.resumed_by_last_event_id += 1
            await hub.catch_up(stream, resume)
        await hub.go_live(stream)
        await stream.closed.wait()
    except ConnectionError:
        pass
    except IntrablogError as error:
        # Headers are gone: say it in the stream. "end" tells the page not to reconnect (e.g. access lost).
        await _end_quietly(response, plain_frame("end", {"reason": error.detail}))
    finally:
        hub.close(stream)
    return response


async def _end_quietly(response: web.StreamResponse, frame: bytes) -> None:
    try:
        await response.write(frame)
    except (ConnectionError, RuntimeError):
        log.debug("stream closed before its end event could be sent")


async def live_home(request: web.Request) -> web.StreamResponse:
    return await _serve(request, "home")


async def live_mentions(request: web.Request) -> web.StreamResponse:
    return await _serve(request, "mentions")


async def live_channel(request: web.Request) -> web.StreamResponse:
    return await _serve(request, "channel", path_text(request, "name"))


async def live_person(request: web.Request) -> web.StreamResponse:
    return await _serve(request, "person", path_text(request, "username"))


async def live_thread(request: web.Request) -> web.StreamResponse:
    return await _serve(request, "thread", path_text(request, "id"))


async def live_conversation(request: web.Request) -> web.StreamResponse:
    return await _serve(request, "conversation", path_text(request, "username"))


def install(app: web.Application, render: Renderers) -> None:
    hub = LiveHub(app[LIVE], app[WEB_SETTINGS], render)
    app[LIVE_HUB] = hub
    app.router.add_get("/live/home", live_home)
    app.router.add_get("/live/mentions", live_mentions)
    app.router.add_get("/live/channels/{name}", live_channel)
    app.router.add_get("/live/users/{username}", live_person)
    app.router.add_get("/live/posts/{id}", live_thread)
    app.router.add_get("/live/messages/{username}", live_conversation)

    async def start(_: web.Application) -> None:
        hub.start()

    async def stop(_: web.Application) -> None:
        # on_shutdown runs before the server waits for open requests: ending the streams lets it stop at once.
        await hub.stop()

    app.on_startup.append(start)
    app.on_shutdown.append(stop)
