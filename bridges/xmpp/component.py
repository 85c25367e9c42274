"""The slixmpp external component (XEP-0114) and typed helpers around its untyped calls.

slixmpp has no type information, so every stanza the bridge builds goes through a helper here: the rest of
the bridge works with plain strings and never touches a stanza interface by name.

What the component announces and understands:
- XEP-0030 disco (answered per asker, see ``directory.py``), XEP-0054 vCards and XEP-0172 nicknames for
  channels and people, XEP-0199 ping (the bridge pings the server to have a batch confirmed);
- XEP-0184 receipts: requested on what we send; acknowledged for what we receive only once it was handled
  (so a person's check mark means "posted"), hence ``auto_ack`` off;
- XEP-0359 origin-id, XEP-0461 replies with XEP-0428 fallback, XEP-0085 chat states (bodiless, ignored).

Roster: whether a subscription is accepted depends on what the person may see, which takes a service call,
so slixmpp's synchronous roster answers (``auto_authorize``) are switched off and its handlers for
``subscribe``, ``unsubscribe`` and ``probe`` removed; ``subscriptions.py`` answers them all. In particular
slixmpp would answer every probe with ``unsubscribed`` for contacts its in-memory roster (empty after each
restart) does not hold, and the person's roster item would drop to ``from``.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from slixmpp import ComponentXMPP
from slixmpp.plugins.xep_0172 import UserNick
from slixmpp.stanza import Message, Presence
from slixmpp.xmlstream import register_stanza_plugin
from slixmpp.xmlstream.tostring import tostring

from intrablog.config import XmppConfig

PLUGINS = ("xep_0030", "xep_0054", "xep_0085", "xep_0184", "xep_0199", "xep_0359", "xep_0428", "xep_0461")

NS_RECEIPTS = "urn:xmpp:receipts"
NS_NICK = "http://jabber.org/protocol/nick"
NS_VCARD = "vcard-temp"
NS_PING = "urn:xmpp:ping"
NS_SID = "urn:xmpp:sid:0"
NS_REPLY = "urn:xmpp:reply:0"
NS_FALLBACK = "urn:xmpp:fallback:0"
NS_CHAT_STATES = "http://jabber.org/protocol/chatstates"
NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"
NS_DISCO_ITEMS = "http://jabber.org/protocol/disco#items"


def make_component(config: XmppConfig) -> Any:
    # fix_error_ns: servers send stanza errors in the component namespace; without it slixmpp reads every
    # error as feature-not-implemented.
    component = ComponentXMPP(  # type: ignore[no-untyped-call]
        config.domain, config.secret.get_secret_value(), config.host, config.port, fix_error_ns=True
    )
    for name in PLUGINS:
        component.register_plugin(name)
    component.plugin["xep_0184"].auto_ack = False
    # The nickname element alone: the xep_0172 plugin would pull in PEP and pubsub, which a component
    # does not use.
    register_stanza_plugin(Presence, UserNick)
    register_stanza_plugin(Message, UserNick)
    component.auto_authorize = None
    component.auto_subscribe = False
    component.del_event_handler("presence_subscribe", component._handle_subscribe)
    component.del_event_handler("presence_unsubscribe", component._handle_unsubscribe)
    component.del_event_handler("presence_probe", component._handle_probe)
    return component


# -- reading stanzas ------------------------------------------------------------------------------------


def text_of(stanza: Any, key: str) -> str:
    value = stanza[key]
    return str(value) if value is not None else ""


def jid_of(stanza: Any, key: str) -> str:
    """``from`` or ``to`` as a full JID string."""
    return str(stanza[key].full)


def error_condition(stanza: Any) -> str:
    return text_of(stanza["error"], "condition")


def has_child(stanza: Any, namespace: str, name: str) -> bool:
    return stanza.xml.find(f"{{{namespace}}}{name}") is not None


def reply_reference(message: Any) -> tuple[str, str] | None:
    """(id, to) of an XEP-0461 reply, or None."""
    if not has_child(message, NS_REPLY, "reply"):
        return None
    return text_of(message["reply"], "id"), text_of(message["reply"], "to")


def body_without_reply_fallback(message: Any) -> str:
    """The body minus the quoted text an XEP-0461 reply carries for old clients (XEP-0428 marks it).

    A reply without the marker may still start with "> " quote lines (clients did that before XEP-0428):
    those are dropped too, or the quote would be posted as part of the reply.
    """
    body = text_of(message, "body")
    if has_child(message, NS_FALLBACK, "fallback"):
        return str(message["reply"].strip_fallback_content())
    lines = body.split("\n")
    while lines and lines[0].startswith(">"):
        lines.pop(0)
    return "\n".join(lines)


# -- writing stanzas ------------------------------------------------------------------------------------


def send_chat(
    component: Any,
    *,
    to: str,
    sender: str,
    body: str,
    stanza_id: str | None = None,
    origin_id: str | None = None,
    request_receipt: bool = False,
) -> str:
    """Send a chat message; returns its stanza id. ``sender`` must be a full JID of ours (checked by the
    caller: ``Addresses.full``)."""
    message = make_chat(
        component,
        to=to,
        sender=sender,
        body=body,
        stanza_id=stanza_id or component.new_id(),
        origin_id=origin_id,
        reply_to_id=None,
        reply_to_jid=None,
        reply_fallback=None,
        request_receipt=request_receipt,
    )
    message.send()
    return str(message["id"])


def make_chat(
    component: Any,
    *,
    to: str,
    sender: str,
    body: str,
    stanza_id: str,
    origin_id: str | None,
    reply_to_id: str | None,
    reply_to_jid: str | None,
    reply_fallback: str | None,
    request_receipt: bool,
) -> Any:
    """The chat message ``send_chat`` sends (also serialised once for many recipients: ``templates.py``)."""
    message = component.make_message(mto=to, mfrom=sender, mbody=body, mtype="chat")
    message["id"] = stanza_id
    if origin_id is not None:
        message["origin_id"]["id"] = origin_id
    if reply_to_id is not None:
        message["reply"]["id"] = reply_to_id
        message["reply"]["to"] = reply_to_jid or sender
        if reply_fallback:
            # Prepends "> text" to the body and marks it (XEP-0428) so that clients with replies hide it.
            message["reply"].add_quoted_fallback(reply_fallback)
    if request_receipt:
        message["request_receipt"] = True
    return message


def serialise(component: Any, stanza: Any) -> str:
    """A stanza as slixmpp writes it on the stream."""
    text: str = tostring(stanza.xml, xmlns=component.default_ns, stream=component, top_level=True)
    return text


def send_serialised(component: Any, xml: str) -> None:
    """A stanza already serialised, queued behind everything sent before it (pings included), as
    ``stanza.send()`` queues: the stream's order is what confirmations rely on."""
    component.send(xml)


def send_receipt(component: Any, *, to: str, sender: str, received_id: str) -> None:
    """XEP-0184 receipt for a message we handled; from the address it was sent to (slixmpp's own ack
    leaves ``from`` out, which a component may not do)."""
    receipt = component.make_message(mto=to, mfrom=sender)
    receipt["receipt"] = received_id
    receipt.send()


def send_presence(component: Any, *, to: str, sender: str, kind: str | None = None, nick: str | None = None) -> None:
    """``kind`` None is "available"; otherwise subscribe, subscribed, unsubscribed, unavailable or probe."""
    make_presence(component, to=to, sender=sender, kind=kind, nick=nick).send()


def make_presence(component: Any, *, to: str, sender: str, kind: str | None = None, nick: str | None = None) -> Any:
    presence = component.make_presence(pto=to, pfrom=sender, ptype=kind)
    if nick:
        presence["nick"]["nick"] = nick
    return presence


def ping(component: Any, *, to: str, sender: str, timeout: float) -> Awaitable[Any]:
    """An iq ping; the awaitable ends with the answer (IqError on an error answer, IqTimeout without)."""
    awaitable: Awaitable[Any] = component.plugin["xep_0199"].send_ping(to, ifrom=sender, timeout=timeout)
    return awaitable
