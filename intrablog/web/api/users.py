"""People: profiles and following."""

from __future__ import annotations

from aiohttp import web

from intrablog.web.inputs import path_text
from intrablog.web.keys import SERVICES, WEB_SETTINGS
from intrablog.web.middlewares import identity
from intrablog.web.render import json_response, profile_out
from intrablog.web.routing import api
from intrablog.web.schemas import ProfileOut


async def _profile(request: web.Request, username: str) -> web.StreamResponse:
    profile = await request.app[SERVICES].people.profile(identity(request).user, username)
    return json_response(profile_out(profile, request.app[WEB_SETTINGS].public_url))


@api.route(
    "GET",
    "/api/v1/users/{username}",
    summary="A person's profile (from the directory) with follower counts",
    tag="users",
    response=ProfileOut,
    errors=(404,),
)
async def show_user(request: web.Request) -> web.StreamResponse:
    return await _profile(request, path_text(request, "username"))


@api.route(
    "POST",
    "/api/v1/users/{username}/follow",
    summary="Follow a colleague (not yourself: 422)",
    tag="users",
    response=ProfileOut,
    errors=(404, 422),
)
async def follow_user(request: web.Request) -> web.StreamResponse:
    username = path_text(request, "username")
    await request.app[SERVICES].people.follow_user(identity(request).user, username)
    return await _profile(request, username)


@api.route(
    "DELETE",
    "/api/v1/users/{username}/follow",
    summary="Stop following a colleague",
    tag="users",
    response=ProfileOut,
    errors=(404,),
)
async def unfollow_user(request: web.Request) -> web.StreamResponse:
    username = path_text(request, "username")
    await request.app[SERVICES].people.unfollow_user(identity(request).user, username)
    return await _profile(request, username)
