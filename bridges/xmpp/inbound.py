"""Chat messages people send to the component's addresses.

- to the bot (the bare domain): a command (``commands.py``), answered by the bot;
- to a channel address: the sender's post in that channel; a reply to a bridged post (XEP-0461 naming the
  post's origin-id ``post-<id>``, or a leading ``@<post id>``) becomes a reply in its thread; ``ack`` to an
  announcement acknowledges it instead (``acks.py``), and is answered like a command;
- to a person address: a direct message; an XEP-0461 reply to one of that person's bridged posts becomes
  a reply in the post's thread instead (that is what the person answered).

Who is writing comes from the sender's bare JID (``services.im.user_for_jid``); an unknown or deactivated
address gets a refusal and nothing is stored. Messages without a body (chat states, receipts, markers)
never reach here: slixmpp's ``message`` event needs a body. Posts and messages are answered only when
something went wrong (with the reason); success is told by the XEP-0184 receipt the client asked for, so a
conversation with a channel is not doubled by confirmations. Each person's messages are handled one at a
time, in the order they came, so consecutive lines become posts in that order.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any

from bridges.xmpp import commands
from bridges.xmpp.acks import Acknowledgements
from bridges.xmpp.addresses import Address, Addresses, AddressKind
from bridges.xmpp.component import NS_RECEIPTS, body_without_reply_fallback, has_child, jid_of, reply_reference, text_of
from bridges.xmpp.errors import error_reply
from bridges.xmpp.handlers import CommandHandlers
from bridges.xmpp.ordering import PerSender
from bridges.xmpp.stanza_log import stanza_context
from intrablog.domain.im import bare_jid
from intrablog.domain.model import User
from intrablog.errors import NotFound, Unauthenticated
from intrablog.services.facade import Services
from intrablog.services.posts import PostDraft

log = logging.getLogger(__name__)

# (to full JID, from bare address of ours, body)
Say = Callable[[str, str, str], None]
# (to full JID, from bare address of ours, id of the message received)
Acknowledge = Callable[[str, str, str], None]

# An unknown sender is refused once per address in this interval, then ignored: an auto-responder on the
# other side would otherwise answer each refusal, and be refused again, forever.
REFUSAL_INTERVAL = 60.0
_REFUSALS_REMEMBERED = 10_000

# A bridged post, or the reminder of an announcement (answering either one is about the announcement).
_ORIGIN_POST = re.compile(r"^(?:post|reminder)-(\d{1,19})$")
_LEADING_POST_ID = re.compile(r"^@(\d{1,19})(?:\s+|$)(.*)$", re.DOTALL)


def post_id_of_origin(origin_id: str) -> int | None:
    """The post a bridged message carried (its stanza id and origin-id are ``post-<id>``, or
    ``reminder-<id>`` for the reminder of announcement ``<id>``)."""
    match = _ORIGIN_POST.fullmatch(origin_id.strip())
    return int(match.group(1)) if match else None


class _StaySilent(Exception):
    """Neither an answer nor a receipt for this message."""


class RefusalMemory:
    """When each unknown sender was last refused at each address."""

    def __init__(self, interval: float = REFUSAL_INTERVAL) -> None:
        self._interval = interval
        self._last: dict[tuple[str, str], float] = {}

    def should_refuse(self, sender: str, address: str) -> bool:
        now = time.monotonic()
        if len(self._last) > _REFUSALS_REMEMBERED:
            self._last = {key: at for key, at in self._last.items() if now - at < self._interval}
        key = (bare_jid(sender), address)
        last = self._last.get(key)
        if last is not None and now - last < self._interval:
            return False
        self._last[key] = now
        return True


class Inbound:
    def __init__(
        self,
        services: Services,
        addresses: Addresses,
        public_url: str,
        say: Say,
        acknowledge: Acknowledge,
        in_order: PerSender,
    ) -> None:
        self._services = services
        self._addresses = addresses
        self._say = say
        self._acknowledge = acknowledge
        self._commands = CommandHandlers(services, addresses, public_url)
        self._acks = Acknowledgements(services)
        self._in_order = in_order
        self._refusals = RefusalMemory()

    async def on_message(self, stanza: Any) -> None:
        """slixmpp ``message`` event handler (chat and normal messages with a body)."""
        if text_of(stanza, "type") not in ("chat", "normal", ""):
            return  # groupchat and headline are not for us; errors arrive as message_error
        body = text_of(stanza, "body")
        if not body:
            return  # an empty <body/> is no message (never an error)
        sender = jid_of(stanza, "from")
        address = self._addresses.parse(jid_of(stanza, "to"))
        if address.kind is AddressKind.FOREIGN or self._addresses.is_ours(sender):
            return  # never answer ourselves: that could loop
        stanza_id = text_of(stanza, "id")
        with stanza_context(stanza_id):
            async with self._in_order.lock(sender):
                try:
                    answer = await self._handle(stanza, sender, address, body)
                except _StaySilent:
                    return
                if answer is not None:
                    self._say(sender, address.bare, answer)
                elif stanza_id and has_child(stanza, NS_RECEIPTS, "request"):
                    self._acknowledge(sender, address.bare, stanza_id)

    async def _handle(self, stanza: Any, sender: str, address: Address, body: str) -> str | None:
        """The answer to send, or None for a silent success."""
        try:
            user = await self._services.im.user_for_jid(bare_jid(sender))
            if user is None:
                log.info("refused a message from an unknown address", extra={"jid": bare_jid(sender)})
                if not self._refusals.should_refuse(sender, address.bare):
                    raise _StaySilent
                raise Unauthenticated("unknown or deactivated address")
            match address.kind:
                case AddressKind.BOT:
                    text, _ = self._reply_of(stanza, body, leading_id=False)  # a quoted bot answer is no command
                    return await self._commands.run(user, commands.parse(text))
                case AddressKind.CHANNEL:
                    return await self._to_channel(user, stanza, body, address.name)
                case AddressKind.PERSON:
                    await self._to_person(user, stanza, body, address.name)
                case _:
                    raise NotFound(f'nothing answers at {address.bare}; write "help" to {self._addresses.bot_jid}')
        except _StaySilent:
            raise
        except Exception as error:
            return error_reply(error).text
        return None

    async def _to_channel(self, user: User, stanza: Any, body: str, channel: str) -> str | None:
        """A post in the channel (silent on success), or an acknowledgement (answered: it is a command)."""
        text, in_reply_to = self._reply_of(stanza, body, leading_id=True)
        answer = await self._acks.in_channel(user, channel, text, in_reply_to)
        if answer is None:
            await self._services.posts.create(user, PostDraft(text=text, channel=channel, in_reply_to=in_reply_to))
        return answer

    async def _to_person(self, user: User, stanza: Any, body: str, username: str) -> None:
        text, in_reply_to = self._reply_of(stanza, body, leading_id=False)
        if in_reply_to is not None:
            await self._services.posts.create(user, PostDraft(text=text, in_reply_to=in_reply_to))
        else:
            await self._services.messages.send(user, username, text)

    def _reply_of(self, stanza: Any, body: str, leading_id: bool) -> tuple[str, int | None]:
        """(text to post, id of the post it answers or None)."""
        reference = reply_reference(stanza)
        if reference is not None:
            # The quote of the message answered is never part of what the person wrote, whatever it answers.
            body = body_without_reply_fallback(stanza)
            post_id = post_id_of_origin(reference[0])
            if post_id is not None:
                return body, post_id
        if leading_id:
            match = _LEADING_POST_ID.fullmatch(body.strip())
            if match:
                return match.group(2), int(match.group(1))
        return body, None
