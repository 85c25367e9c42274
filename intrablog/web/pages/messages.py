"""Direct messages: the list of conversations, and one conversation with its own compose box.

A direct message is not a post (never in a timeline); the service decides who may write to whom. The
conversation page shows the latest messages oldest first, like a chat, and receives new ones live.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

from aiohttp import web

from intrablog.domain.model import PageRequest
from intrablog.errors import Forbidden, Invalid, NotFound
from intrablog.web.inputs import path_text
from intrablog.web.keys import SERVICES
from intrablog.web.pages.base import (
    ComposeState,
    Reader,
    compose_error,
    compose_form,
    live_url,
    reader,
    render,
    see_other,
)
from intrablog.web.pages.views import message_card
from intrablog.web.problems import status_of
from intrablog.web.text import excerpt

CONVERSATION_LENGTH = 50


async def inbox(request: web.Request) -> web.StreamResponse:
    who = reader(request)
    wanted = request.query.get("to", "").strip().lstrip("@").lower()
    if wanted:
        return see_other(f"/messages/{quote(wanted, safe='')}")
    now = datetime.now(UTC)
    conversations = [
        {
            "username": person.username,
            "name": person.display_name or person.username,
            "latest": excerpt(message.text),
            "from_me": message.sender_id == who.user.id,
            "card": message_card(message, now),
        }
        for person, message in await request.app[SERVICES].messages.conversations(who.user)
    ]
    return render(request, "messages.html", {"nav": "messages", "conversations": conversations}, who=who)


async def _conversation(
    request: web.Request, who: Reader, compose: ComposeState, status: int = 200
) -> web.StreamResponse:
    services = request.app[SERVICES]
    username = path_text(request, "username")
    profile = await services.people.profile(who.user, username)
    if profile.user.id == who.user.id:
        raise NotFound("there is no conversation with yourself")
    messages = await services.messages.conversation(who.user, username, PageRequest(limit=CONVERSATION_LENGTH))
    messages.reverse()  # the service lists newest first; a conversation reads oldest first
    now = datetime.now(UTC)
    context = {
        "nav": "messages",
        "person": profile.user,
        "cards": [message_card(message, now) for message in messages],
        "compose": compose,
        "live_url": live_url(f"/live/messages/{profile.user.username}", (message.id for message in messages)),
    }
    return render(request, "conversation.html", context, status, who)


async def conversation(request: web.Request) -> web.StreamResponse:
    return await _conversation(request, reader(request), ComposeState())


async def send(request: web.Request) -> web.StreamResponse:
    who = reader(request)
    username = path_text(request, "username")
    text = ""
    try:
        form = await compose_form(request)
        text = form.text
        message = await request.app[SERVICES].messages.send(who.user, username, text)
    except (Invalid, Forbidden) as error:
        return await _conversation(request, who, ComposeState(text=text, error=compose_error(error)), status_of(error))
    return see_other(f"/messages/{quote(username, safe='')}#message-{message.id}")
