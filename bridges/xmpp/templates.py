"""Stanzas serialised once and sent to many people: an announcement is one message to thousands.

slixmpp builds each stanza as a tree of plugin objects and escapes it character by character on the way
out; for one message to 10,000 people that was the bridge's largest cost, ten times what the database
took. Here slixmpp builds and serialises a message once, with markers where the recipient and the id go;
each copy is the fixed parts joined around the recipient and id, escaped. The bytes are those slixmpp would
write (a test compares them); the bridge queues them on the stream like any stanza, in order with the
pings that confirm them (``component.send_serialised``).

slixmpp's outgoing filters do not see the copies. The two it registers leave them alone anyway: XEP-0184's
automatic receipt requests are off (we ask for receipts ourselves), and the roster's "last presence sent"
concerns available and unavailable presences, not probes.
"""

from __future__ import annotations

import itertools
import re
import secrets
from typing import Any, TypeVar

from bridges.xmpp import component as stanzas

# Random per process, so no text can hold them by design; each must also parse as what it stands for.
_MARK = secrets.token_hex(8)
_TO = f"to-{_MARK}.invalid"
_ID = f"id-{_MARK}"
# Only attribute values are slots: text escapes '"', so '="marker"' cannot come from a body.
_SLOT = re.compile(f'(?<==")({re.escape(_TO)}|{re.escape(_ID)})(?=")')
_ATTRIBUTE = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "'": "&apos;", '"': "&quot;"})
# Distinct messages kept: a channel post goes to its followers one after the other, an announcement to all.
CACHED = 64
_Key = TypeVar("_Key")


class Template:
    """One serialised stanza with slots for the recipient (``to``) and the stanza id (and origin-id)."""

    def __init__(self, xml: str) -> None:
        self._pieces = _SLOT.split(xml)  # text, slot, text, slot, …, text
        self._to_slots = [i for i in range(1, len(self._pieces), 2) if self._pieces[i] == _TO]
        self._id_slots = [i for i in range(1, len(self._pieces), 2) if self._pieces[i] == _ID]
        if len(self._to_slots) != 1 or not self._id_slots:
            raise ValueError(f"not a template: {xml[:200]!r}")

    def fill(self, to: str, stanza_id: str) -> str:
        pieces = list(self._pieces)
        pieces[self._to_slots[0]] = to.translate(_ATTRIBUTE)
        escaped_id = stanza_id.translate(_ATTRIBUTE)
        for slot in self._id_slots:
            pieces[slot] = escaped_id
        return "".join(pieces)


class StanzaTemplates:
    def __init__(self, component: Any) -> None:
        self._component = component
        self._chats: dict[tuple[str, str, str | None, str | None, str | None, bool], Template] = {}
        self._probes: dict[str, Template] = {}
        self._probe_ids = itertools.count(1)

    def chat(
        self,
        *,
        to: str,
        sender: str,
        body: str,
        stanza_id: str,
        reply_to_id: str | None,
        reply_to_jid: str | None,
        reply_fallback: str | None,
        request_receipt: bool,
    ) -> str:
        """The XML of ``component.make_chat`` with ``origin_id = stanza_id``; built once per message."""
        key = (sender, body, reply_to_id, reply_to_jid, reply_fallback, request_receipt)
        template = self._chats.get(key)
        if template is None:
            message = stanzas.make_chat(
                self._component,
                to=_TO,
                sender=sender,
                body=body,
                stanza_id=_ID,
                origin_id=_ID,
                reply_to_id=reply_to_id,
                reply_to_jid=reply_to_jid,
                reply_fallback=reply_fallback,
                request_receipt=request_receipt,
            )
            template = _remember(self._chats, key, Template(stanzas.serialise(self._component, message)))
        return template.fill(to, stanza_id)

    def probe(self, *, to: str, sender: str) -> str:
        """A presence probe, as ``component.send_presence(kind="probe")`` sends it (with an id of ours)."""
        template = self._probes.get(sender)
        if template is None:
            probe = stanzas.make_presence(self._component, to=_TO, sender=sender, kind="probe")
            probe["id"] = _ID
            template = _remember(self._probes, sender, Template(stanzas.serialise(self._component, probe)))
        return template.fill(to, f"probe-{next(self._probe_ids)}")


def _remember(cache: dict[_Key, Template], key: _Key, template: Template) -> Template:
    if len(cache) >= CACHED:
        del cache[next(iter(cache))]  # the oldest: dicts keep insertion order
    cache[key] = template
    return template
