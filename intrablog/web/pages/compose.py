"""The compose box's form post, shared by every timeline page.

A page's compose form posts to the page's own address. Success redirects (post/redirect/get); a refusal
(too long, blank, not allowed here) shows the same page again with the text kept and the reason in words,
with the refusal's status (422, 403), so the server's check is what a reader sees even without script.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace

from aiohttp import web

from intrablog.domain.model import Post
from intrablog.errors import Forbidden, Invalid, NotFound
from intrablog.services.posts import PostDraft
from intrablog.web.keys import SERVICES
from intrablog.web.pages.base import ComposeForm, ComposeState, Reader, compose_error, compose_form, see_other
from intrablog.web.problems import status_of

Redisplay = Callable[[ComposeState, int], Awaitable[web.StreamResponse]]


async def reply_label(request: web.Request, who: Reader, post_id: int | None) -> str:
    """Whom a reply answers, by display name, for "Replying to ..." above the box."""
    if post_id is None:
        return ""
    try:
        post = await request.app[SERVICES].posts.get(who.user, post_id)
    except NotFound:
        return "a post"
    return post.author.display_name or post.author.username


async def submit_post(
    request: web.Request,
    who: Reader,
    channel: str | None,
    redisplay: Redisplay,
    success: Callable[[Post], str],
    default_reply: int | None = None,
) -> web.StreamResponse:
    """Create the post the form describes (a reply when it names ``in_reply_to``), or show why not."""
    form = ComposeForm("", None)
    try:
        form = await compose_form(request)
        if form.in_reply_to is None and default_reply is not None:
            form = replace(form, in_reply_to=default_reply)
        # A reply goes where the post it answers is; the service refuses a channel that disagrees.
        draft = PostDraft(
            form.text,
            channel=None if form.in_reply_to else channel,
            in_reply_to=form.in_reply_to,
            requires_ack=form.requires_ack,
            urgent=form.urgent,
        )
        post = await request.app[SERVICES].posts.create(who.user, draft)
    except (Invalid, Forbidden) as error:
        state = ComposeState(
            text=form.text,
            error=compose_error(error),
            in_reply_to=str(form.in_reply_to) if form.in_reply_to else "",
            reply_label=await reply_label(request, who, form.in_reply_to),
            requires_ack=form.requires_ack,
            urgent=form.urgent,
        )
        return await redisplay(state, status_of(error))
    return see_other(success(post))
