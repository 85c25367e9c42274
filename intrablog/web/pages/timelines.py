"""Home and mentions: the reader's own timelines, each with a compose box for a personal update."""

from __future__ import annotations

from aiohttp import web

from intrablog.web.inputs import page_request
from intrablog.web.keys import SERVICES
from intrablog.web.pages.ack_state import waiting_for
from intrablog.web.pages.base import ComposeState, Reader, post_list, reader, render
from intrablog.web.pages.compose import submit_post


async def _home(request: web.Request, who: Reader, compose: ComposeState, status: int = 200) -> web.StreamResponse:
    page = await request.app[SERVICES].timelines.home(who.user, page_request(request))
    context = {
        "nav": "home",
        "heading": "Home",
        "intro": "",
        "compose": compose,
        "compose_action": "/",
        "compose_label": "Share an update with the people who follow you",
        **await post_list(request, who, page, "/live/home"),
        "empty": "Your timeline is empty. Follow channels and colleagues to see their posts here.",
        "waiting": await waiting_for(request, who.user),
    }
    return render(request, "timeline.html", context, status, who)


async def home(request: web.Request) -> web.StreamResponse:
    return await _home(request, reader(request), ComposeState())


async def home_post(request: web.Request) -> web.StreamResponse:
    who = reader(request)

    async def again(state: ComposeState, status: int) -> web.StreamResponse:
        return await _home(request, who, state, status)

    return await submit_post(request, who, None, again, lambda _: "/")


async def _mentions(request: web.Request, who: Reader, compose: ComposeState, status: int = 200) -> web.StreamResponse:
    page = await request.app[SERVICES].timelines.mentions(who.user, page_request(request))
    context = {
        "nav": "mentions",
        "heading": "Mentions",
        "intro": f"Posts that mention @{who.user.username}.",
        "compose": compose,
        "compose_action": "/mentions",
        "compose_label": "Share an update",
        **await post_list(request, who, page, "/live/mentions"),
        "empty": "Nobody has mentioned you yet.",
    }
    return render(request, "timeline.html", context, status, who)


async def mentions(request: web.Request) -> web.StreamResponse:
    return await _mentions(request, reader(request), ComposeState())


async def mentions_post(request: web.Request) -> web.StreamResponse:
    who = reader(request)

    async def again(state: ComposeState, status: int) -> web.StreamResponse:
        return await _mentions(request, who, state, status)

    return await submit_post(request, who, None, again, lambda _: "/mentions")
