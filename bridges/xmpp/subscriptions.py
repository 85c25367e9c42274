"""Presence: roster subscriptions to our addresses, probes, and people's presence for the presence book.

- ``subscribe`` to a channel or person address = follow it with IM delivery on: answered ``subscribed``,
  followed by our presence (the address is online) and our own ``subscribe``, so the roster item becomes
  ``both`` and the person's presence reaches us. A private channel the person may not see, an unknown
  person, an unknown sender: ``unsubscribed`` and nothing else, exactly as for an address that does not
  exist. The bot can be added too (no follow).
- ``unsubscribe`` = IM delivery off for that channel or person (they stay followed: ``leave`` unfollows).
- ``probe`` (the server asking on a person's behalf, e.g. at their login): our addresses are always online.
  Answered here, never by slixmpp's roster, which is empty after each restart.
- every other presence updates the presence book.

A person's subscription requests are handled in the order they came, with their messages (``ordering.py``).

When the services cannot decide (the database or directory is down), a subscription request is left
unanswered: it stays pending on the person's side instead of being refused for a reason that is not theirs.
"""

from __future__ import annotations

import logging
from typing import Any

from bridges.xmpp.addresses import Address, Addresses, AddressKind
from bridges.xmpp.component import jid_of, send_presence, text_of
from bridges.xmpp.ordering import PerSender
from bridges.xmpp.presence import PresenceBook, presence_of
from bridges.xmpp.stanza_log import stanza_context
from intrablog.domain.im import ImTarget, bare_jid
from intrablog.domain.model import User
from intrablog.errors import Conflict, Forbidden, Invalid, NotFound, Unauthenticated
from intrablog.services.facade import Services

log = logging.getLogger(__name__)

BOT_NICK = "intrablog"
# Refusals that are the person's own case; anything else (Unavailable, a bug) leaves the request pending.
_REFUSED = (NotFound, Forbidden, Invalid, Unauthenticated, Conflict)


def target_of(address: Address) -> ImTarget | None:
    if address.kind is AddressKind.CHANNEL:
        return ImTarget("channel", address.name)
    if address.kind is AddressKind.PERSON:
        return ImTarget("person", address.name)
    return None


class Subscriptions:
    def __init__(
        self, services: Services, addresses: Addresses, component: Any, book: PresenceBook, in_order: PerSender
    ) -> None:
        self._services = services
        self._in_order = in_order
        self._addresses = addresses
        self._component = component
        self._book = book
        component.add_event_handler("presence_subscribe", self.on_subscribe)
        component.add_event_handler("presence_unsubscribe", self.on_unsubscribe)
        component.add_event_handler("presence_probe", self.on_probe)
        component.add_event_handler("presence", self.on_presence)

    def _present(self, to: str, address: Address, nick: str | None = None) -> None:
        send_presence(self._component, to=to, sender=self._addresses.full(address.bare), nick=nick)

    async def on_subscribe(self, stanza: Any) -> None:
        person = bare_jid(jid_of(stanza, "from"))
        address = self._addresses.parse(jid_of(stanza, "to"))
        if address.kind is AddressKind.FOREIGN:
            return
        with stanza_context(text_of(stanza, "id")):
            async with self._in_order.lock(person):
                try:
                    nick = await self._follow(person, address)
                except _REFUSED as refusal:
                    log.info(
                        "subscription refused", extra={"jid": person, "address": address.bare, "why": str(refusal)}
                    )
                    send_presence(self._component, to=person, sender=address.bare, kind="unsubscribed")
                    return
                except Exception:
                    log.exception("subscription left pending", extra={"jid": person, "address": address.bare})
                    return
                send_presence(self._component, to=person, sender=address.bare, kind="subscribed")
                self._present(person, address, nick)
                send_presence(self._component, to=person, sender=address.bare, kind="subscribe", nick=nick)
                log.info("subscribed", extra={"jid": person, "address": address.bare})

    async def _follow(self, person: str, address: Address) -> str:
        """Follow what ``address`` stands for with IM on; returns its display name (XEP-0172 nick)."""
        if address.kind is AddressKind.UNKNOWN:
            raise NotFound(f"nothing answers at {address.bare}")
        user = await self._user(person)
        target = target_of(address)
        if target is None:  # the bot: nothing to follow, it answers commands
            return BOT_NICK
        await self._services.im.follow(user, target)
        return await self.display_name(user, address)

    async def display_name(self, user: User, address: Address) -> str:
        if address.kind is AddressKind.CHANNEL:
            return (await self._services.channels.show(user, address.name)).channel.title
        if address.kind is AddressKind.PERSON:
            return (await self._services.people.profile(user, address.name)).user.display_name
        return BOT_NICK

    async def _user(self, person: str) -> User:
        user = await self._services.im.user_for_jid(person)
        if user is None:
            raise Unauthenticated("unknown or deactivated address")
        return user

    async def on_unsubscribe(self, stanza: Any) -> None:
        person = bare_jid(jid_of(stanza, "from"))
        address = self._addresses.parse(jid_of(stanza, "to"))
        target = target_of(address)
        if target is None:
            return
        with stanza_context(text_of(stanza, "id")):
            async with self._in_order.lock(person):
                try:
                    user = await self._user(person)
                    await self._services.im.set_delivery(user, target, False)
                except _REFUSED:
                    return  # not following it (or it is gone): IM is off for it already
            log.info("IM delivery off by unsubscribe", extra={"jid": person, "address": address.bare})

    def on_probe(self, stanza: Any) -> None:
        address = self._addresses.parse(jid_of(stanza, "to"))
        person = bare_jid(jid_of(stanza, "from"))
        if address.kind in (AddressKind.BOT, AddressKind.CHANNEL, AddressKind.PERSON):
            self._present(person, address)
        elif address.kind is AddressKind.UNKNOWN:
            send_presence(self._component, to=person, sender=address.bare, kind="unsubscribed")

    def on_presence(self, stanza: Any) -> None:
        sender = jid_of(stanza, "from")
        if self._addresses.is_ours(sender):
            return
        presence = presence_of(text_of(stanza, "type"), text_of(stanza, "show"))
        if presence is None:
            return
        self._book.update(sender, presence, via=jid_of(stanza, "to"))

    def probe_known(self) -> None:
        """After a new session: ask everyone heard from before for their presence now."""
        for person, via in self._book.heard_via().items():
            if self._addresses.is_ours(via):
                send_presence(self._component, to=person, sender=via, kind="probe")
