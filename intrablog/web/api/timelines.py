"""Timelines, newest first, paged with ``limit`` and ``before`` and a ``Link: rel="next"`` header."""

from __future__ import annotations

from aiohttp import web

from intrablog.web.inputs import page_request, path_text
from intrablog.web.keys import SERVICES
from intrablog.web.middlewares import identity
from intrablog.web.render import post_page
from intrablog.web.routing import api
from intrablog.web.schemas import PostOut


@api.route(
    "GET",
    "/api/v1/timeline/home",
    summary="Your own posts, the people you follow and the channels you follow",
    tag="timelines",
    response=PostOut,
    response_is_list=True,
    paged=True,
)
async def home_timeline(request: web.Request) -> web.StreamResponse:
    page = await request.app[SERVICES].timelines.home(identity(request).user, page_request(request))
    return post_page(request, page)


@api.route(
    "GET",
    "/api/v1/timeline/mentions",
    summary="Posts that mention you",
    tag="timelines",
    response=PostOut,
    response_is_list=True,
    paged=True,
)
async def mentions_timeline(request: web.Request) -> web.StreamResponse:
    page = await request.app[SERVICES].timelines.mentions(identity(request).user, page_request(request))
    return post_page(request, page)


@api.route(
    "GET",
    "/api/v1/channels/{name}/posts",
    summary="A channel's posts",
    tag="timelines",
    response=PostOut,
    response_is_list=True,
    paged=True,
    errors=(404,),
)
async def channel_timeline(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    page = await services.timelines.channel(identity(request).user, path_text(request, "name"), page_request(request))
    return post_page(request, page)


@api.route(
    "GET",
    "/api/v1/users/{username}/posts",
    summary="A person's posts that you may read",
    tag="timelines",
    response=PostOut,
    response_is_list=True,
    paged=True,
    errors=(404,),
)
async def person_timeline(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    who = identity(request).user
    page = await services.timelines.person(who, path_text(request, "username"), page_request(request))
    return post_page(request, page)
