"""Posts: create, read, delete, thread."""

from __future__ import annotations

from aiohttp import web

from intrablog.domain.ids import parse_id
from intrablog.errors import Invalid
from intrablog.services.posts import PostDraft
from intrablog.web.inputs import path_post_id, read_json
from intrablog.web.keys import SERVICES, WEB_SETTINGS
from intrablog.web.middlewares import identity
from intrablog.web.render import json_response, post_out
from intrablog.web.routing import api
from intrablog.web.schemas import PostCreateRequest, PostOut


@api.route(
    "POST",
    "/api/v1/posts",
    summary="Post in a channel, as a personal update, or as a reply",
    description="Text is NFC-normalised and limited to the configured number of code points (default 280). "
    "A reply goes to the thread's channel. Posting needs membership in a private channel and the poster "
    "role in an announcement channel. Only a new post in an announcement channel may set `requires_ack` (ask "
    "everyone to acknowledge it) and `urgent` (reaches people in 'do not disturb' on IM); elsewhere they are 422.",
    tag="posts",
    status=201,
    body=PostCreateRequest,
    response=PostOut,
    errors=(403, 404),
)
async def create_post(request: web.Request) -> web.StreamResponse:
    data = await read_json(request, PostCreateRequest)
    in_reply_to: int | None = None
    if data.in_reply_to is not None:
        # The pattern admits 19 digits; beyond the 63-bit id range no post can exist (nor fit a database integer).
        in_reply_to = parse_id(data.in_reply_to)
        if in_reply_to is None:
            raise Invalid("in_reply_to", "no such post")
    draft = PostDraft(
        text=data.text,
        channel=data.channel,
        in_reply_to=in_reply_to,
        requires_ack=data.requires_ack,
        urgent=data.urgent,
    )
    post = await request.app[SERVICES].posts.create(identity(request).user, draft)
    response = json_response(post_out(post, request.app[WEB_SETTINGS].public_url), status=201)
    response.headers["Location"] = f"/api/v1/posts/{post.id}"
    return response


@api.route("GET", "/api/v1/posts/{id}", summary="One post", tag="posts", response=PostOut, errors=(404,))
async def get_post(request: web.Request) -> web.StreamResponse:
    post = await request.app[SERVICES].posts.get(identity(request).user, path_post_id(request))
    return json_response(post_out(post, request.app[WEB_SETTINGS].public_url))


@api.route(
    "DELETE",
    "/api/v1/posts/{id}",
    summary="Delete a post (its author, a channel admin, or a site admin)",
    tag="posts",
    status=204,
    errors=(403, 404),
)
async def delete_post(request: web.Request) -> web.StreamResponse:
    await request.app[SERVICES].posts.delete(identity(request).user, path_post_id(request))
    return web.Response(status=204)


@api.route(
    "GET",
    "/api/v1/posts/{id}/thread",
    summary="The thread a post belongs to: root first, replies in order",
    tag="posts",
    response=PostOut,
    response_is_list=True,
    errors=(404,),
)
async def post_thread(request: web.Request) -> web.StreamResponse:
    posts = await request.app[SERVICES].posts.thread(identity(request).user, path_post_id(request))
    public_url = request.app[WEB_SETTINGS].public_url
    return json_response([post_out(post, public_url) for post in posts])
