"""Channels: the list, a channel's page (description, members, follow or leave, its posts), posting there."""

from __future__ import annotations

from aiohttp import web

from intrablog.domain import rules
from intrablog.web.inputs import page_request, path_text
from intrablog.web.keys import LIVE, SERVICES
from intrablog.web.pages.base import ComposeState, Reader, post_list, reader, render, see_other
from intrablog.web.pages.compose import submit_post


async def channel_list(request: web.Request) -> web.StreamResponse:
    who = reader(request)
    channels = await request.app[SERVICES].channels.list_visible(who.user)
    return render(request, "channels.html", {"nav": "channels", "channels": channels}, who=who)


async def _channel(request: web.Request, who: Reader, compose: ComposeState, status: int = 200) -> web.StreamResponse:
    services = request.app[SERVICES]
    name = path_text(request, "name")
    # A private channel the reader may not see is NotFound here, exactly like one that does not exist.
    view = await services.channels.show(who.user, name)
    page = await services.timelines.channel(who.user, name, page_request(request))
    context = {
        "nav": "channels",
        "view": view,
        "members": await services.channels.members(who.user, name),
        "can_post": await request.app[LIVE].can_post_in(who.user, view.channel),
        "can_leave": rules.can_leave_channel(view.channel),
        "compose": compose,
        **await post_list(request, who, page, f"/live/channels/{name}"),
    }
    return render(request, "channel.html", context, status, who)


async def channel_page(request: web.Request) -> web.StreamResponse:
    return await _channel(request, reader(request), ComposeState())


async def channel_post(request: web.Request) -> web.StreamResponse:
    who = reader(request)
    name = path_text(request, "name")

    async def again(state: ComposeState, status: int) -> web.StreamResponse:
        return await _channel(request, who, state, status)

    return await submit_post(request, who, name, again, lambda _: f"/channels/{name}")


async def follow_channel(request: web.Request) -> web.StreamResponse:
    name = path_text(request, "name")
    await request.app[SERVICES].channels.follow(reader(request).user, name)
    return see_other(f"/channels/{name}")


async def leave_channel(request: web.Request) -> web.StreamResponse:
    name = path_text(request, "name")
    await request.app[SERVICES].channels.unfollow(reader(request).user, name)
    return see_other(f"/channels/{name}")
