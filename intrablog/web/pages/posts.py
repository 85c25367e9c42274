"""A thread's page (root first, replies in order, a reply box) and deleting a post."""

from __future__ import annotations

from dataclasses import replace

from aiohttp import web

from intrablog.domain.ids import parse_id
from intrablog.web.inputs import path_post_id
from intrablog.web.keys import SERVICES
from intrablog.web.pages.base import (
    ComposeState,
    Reader,
    cards,
    form_fields,
    live_url,
    local_path,
    reader,
    render,
    see_other,
)
from intrablog.web.pages.compose import submit_post
from intrablog.web.text import excerpt


async def _thread(
    request: web.Request, who: Reader, post_id: int, compose: ComposeState, status: int = 200
) -> web.StreamResponse:
    posts = await request.app[SERVICES].posts.thread(who.user, post_id)
    focus = next((post for post in posts if post.id == post_id), posts[0])
    target = next((post for post in posts if str(post.id) == compose.in_reply_to), focus)
    compose = replace(
        compose, in_reply_to=str(target.id), reply_label=target.author.display_name or target.author.username
    )
    context = {
        "title": excerpt(posts[0].text, 60),
        "channel": posts[0].channel_name,
        "focus_id": str(post_id),
        "compose": compose,
        "cards": await cards(request, who, posts),
        "live_url": live_url(f"/live/posts/{post_id}", (post.id for post in posts)),
    }
    return render(request, "thread.html", context, status, who)


async def thread_page(request: web.Request) -> web.StreamResponse:
    post_id = path_post_id(request)
    reply_to = parse_id(request.query.get("reply_to", "")) or post_id
    return await _thread(request, reader(request), post_id, ComposeState(in_reply_to=str(reply_to)))


async def thread_reply(request: web.Request) -> web.StreamResponse:
    who = reader(request)
    post_id = path_post_id(request)

    async def again(state: ComposeState, status: int) -> web.StreamResponse:
        return await _thread(request, who, post_id, state, status)

    # The box names the post it answers; a form that does not answers the page's post.
    return await submit_post(
        request, who, None, again, lambda post: f"/posts/{post_id}#post-{post.id}", default_reply=post_id
    )


async def delete_post(request: web.Request) -> web.StreamResponse:
    who = reader(request)
    post_id = path_post_id(request)
    fields = await form_fields(request)
    await request.app[SERVICES].posts.delete(who.user, post_id)
    target = local_path(fields.get("next"))
    if target.split("#")[0].split("?")[0] == f"/posts/{post_id}":
        target = "/"  # the page of the post just deleted is gone
    return see_other(target)
