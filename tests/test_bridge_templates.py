"""Stanzas serialised once for many recipients (``templates.py``) are byte for byte what slixmpp writes.

No server is needed: both sides are serialised from the same component, one stanza built by slixmpp per
recipient, the other filled into the template. Delivery through a real Prosody with these bytes is in
``test_bridge_sending.py``.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr

from bridges.xmpp import component as stanzas
from bridges.xmpp.templates import CACHED, StanzaTemplates, Template
from intrablog.config import XmppConfig

SENDER = "engineering@blog.example.com/blog"
AWKWARD = 'a <b> & "quoted" \'single\' ]]> ="to-0.invalid" é 😀\nsecond line'


@pytest.fixture
async def component() -> Any:  # inside a loop: slixmpp binds its futures to the running one
    return stanzas.make_component(XmppConfig(enabled=True, domain="blog.example.com", secret=SecretStr("x")))


def by_slixmpp(component: Any, **fields: Any) -> str:
    message = stanzas.make_chat(component, origin_id=fields["stanza_id"], **fields)
    return stanzas.serialise(component, message)


CHATS: list[dict[str, Any]] = [
    dict(to="bob@example.com", sender=SENDER, body=AWKWARD, stanza_id="post-1", request_receipt=True),
    # What the directory may hold (the server refuses it, as before): escaped in the attribute.
    dict(to="o'neil&co<x>@example.com", sender=SENDER, body="hi", stanza_id='post-"2', request_receipt=True),
    dict(
        to="carol@example.com",
        sender=SENDER,
        body="carol: me too",
        stanza_id="post-3",
        reply_to_id="post-1",
        reply_to_jid=SENDER,
        reply_fallback="in reply to http://intrablog.test/posts/1",
        request_receipt=True,
    ),
    dict(to="dave@example.com", sender="blog.example.com/blog", body="", stanza_id="held-1", request_receipt=False),
]


@pytest.mark.parametrize("fields", CHATS, ids=["awkward body", "awkward ids", "reply", "no body, no receipt"])
async def test_a_chat_message_is_what_slixmpp_writes(component: Any, fields: dict[str, Any]) -> None:
    templates = StanzaTemplates(component)
    complete = {"reply_to_id": None, "reply_to_jid": None, "reply_fallback": None} | fields
    expected = by_slixmpp(component, **complete)
    assert templates.chat(**complete) == expected
    assert templates.chat(**complete) == expected  # the second comes from the template


async def test_one_template_serves_every_recipient_with_their_own_address_and_id(component: Any) -> None:
    templates = StanzaTemplates(component)
    common: dict[str, Any] = dict(sender=SENDER, body=AWKWARD, reply_to_id=None, reply_to_jid=None, reply_fallback=None)
    for n in range(3):
        fields: dict[str, Any] = common | {
            "to": f"user{n}@example.com",
            "stanza_id": f"post-{n}",
            "request_receipt": True,
        }
        assert templates.chat(**fields) == by_slixmpp(component, **fields)
    # A different body (or sender, reply, receipt request) is another message, never a stale template.
    other: dict[str, Any] = common | {
        "to": "user0@example.com",
        "stanza_id": "post-9",
        "request_receipt": False,
        "body": "other",
    }
    assert templates.chat(**other) == by_slixmpp(component, **other)


async def test_a_probe_is_what_slixmpp_writes_but_its_id(component: Any) -> None:
    templates = StanzaTemplates(component)
    slixmpp_probe = stanzas.make_presence(component, to="bob@example.com", sender="eng@blog.example.com", kind="probe")
    slixmpp_probe["id"] = "probe-1"
    assert templates.probe(to="bob@example.com", sender="eng@blog.example.com") == stanzas.serialise(
        component, slixmpp_probe
    )
    assert 'id="probe-2"' in templates.probe(to="bob@example.com", sender="eng@blog.example.com")


async def test_the_cache_keeps_the_latest_messages_only(component: Any) -> None:
    templates = StanzaTemplates(component)
    common: dict[str, Any] = dict(
        to="bob@example.com", sender=SENDER, reply_to_id=None, reply_to_jid=None, reply_fallback=None
    )
    for n in range(CACHED + 5):
        fields: dict[str, Any] = common | {"body": f"post {n}", "stanza_id": f"post-{n}", "request_receipt": True}
        assert templates.chat(**fields) == by_slixmpp(component, **fields)
    assert len(templates._chats) == CACHED


def test_xml_without_the_slots_is_refused() -> None:
    with pytest.raises(ValueError, match="not a template"):
        Template('<message to="bob@example.com" id="x" />')
