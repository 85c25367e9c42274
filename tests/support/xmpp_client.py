"""A staff member's instant-messaging client for the tests: a real slixmpp client session against Prosody.

It connects the way TEST-SERVERS.md says (no TLS, PLAIN allowed on loopback), acknowledges receipts like
an ordinary client, and queues every message with a body (and every error) it receives:

    alice = await ImClient.connect_as("alice@example.com", "alice-pass", "127.0.0.1", prosody.c2s_port)
    alice.send("bob@example.com", "hello")
    received = await bob.next_message(timeout=2)
    await alice.close()
"""

# Every wait here is bounded by default (a test must never hang on a message that does not come), so the
# methods take a timeout rather than leaving it to the caller's asyncio.timeout().
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from xml.etree.ElementTree import Element

import slixmpp
from slixmpp.stanza import Message, Presence
from slixmpp.xmlstream import StanzaBase
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import StanzaPath

Show = Literal["away", "xa", "dnd", "chat"]
ChatState = Literal["active", "composing", "paused", "inactive", "gone"]

_CLIENT_NS = "jabber:client"
_SID_NS = "urn:xmpp:sid:0"
_REPLY_NS = "urn:xmpp:reply:0"
_DELAY_NS = "urn:xmpp:delay"
_RECEIPTS_NS = "urn:xmpp:receipts"
_STANZAS_NS = "urn:ietf:params:xml:ns:xmpp-stanzas"
_DISCO_INFO_NS = "http://jabber.org/protocol/disco#info"
_DISCO_ITEMS_NS = "http://jabber.org/protocol/disco#items"
_PLUGINS = ("xep_0030", "xep_0085", "xep_0184", "xep_0199", "xep_0203", "xep_0359", "xep_0428", "xep_0461")
_POLL_INTERVAL = 0.02


class ImClientError(RuntimeError):
    """The session could not start (refused, wrong password) or an expected stanza did not come."""


@dataclass(frozen=True)
class ReceivedMessage:
    """One message stanza as the client received it (only those with a body, and errors)."""

    from_: str  # full JID as sent
    to: str
    type: str  # chat, normal, headline, groupchat or error
    body: str
    id: str | None
    origin_id: str | None  # XEP-0359
    stanza_id: str | None  # XEP-0359, set by the server that archived it (if any)
    reply_to: str | None  # XEP-0461: the id of the message this one answers
    reply_to_jid: str | None
    delay_stamp: datetime | None  # XEP-0203: set on messages from offline storage
    receipt_requested: bool  # XEP-0184
    error_condition: str | None = None  # e.g. "not-allowed" on a type="error" message
    error_text: str | None = None

    @property
    def sender(self) -> str:
        """The bare JID it came from."""
        return self.from_.split("/", 1)[0]


@dataclass(frozen=True)
class DiscoIdentity:
    category: str
    type: str
    name: str | None


@dataclass(frozen=True)
class DiscoInfo:
    identities: tuple[DiscoIdentity, ...]
    features: frozenset[str]


@dataclass(frozen=True)
class DiscoItem:
    jid: str
    node: str | None
    name: str | None


def _child(parent: Element, namespace: str, name: str) -> Element | None:
    return parent.find(f"{{{namespace}}}{name}")


def _parse_message(xml: Element) -> ReceivedMessage:
    body = _child(xml, _CLIENT_NS, "body")
    origin = _child(xml, _SID_NS, "origin-id")
    archived = _child(xml, _SID_NS, "stanza-id")
    reply = _child(xml, _REPLY_NS, "reply")
    delay = _child(xml, _DELAY_NS, "delay")
    stamp = delay.get("stamp") if delay is not None else None
    error = _child(xml, _CLIENT_NS, "error")
    conditions = [item for item in (error if error is not None else []) if item.tag.startswith(f"{{{_STANZAS_NS}}}")]
    text = next((item.text for item in conditions if item.tag.endswith("}text")), None)
    condition = next((item.tag.split("}")[1] for item in conditions if not item.tag.endswith("}text")), None)
    return ReceivedMessage(
        from_=xml.get("from", ""),
        to=xml.get("to", ""),
        type=xml.get("type", "normal"),
        body=(body.text or "") if body is not None else "",
        id=xml.get("id"),
        origin_id=origin.get("id") if origin is not None else None,
        stanza_id=archived.get("id") if archived is not None else None,
        reply_to=reply.get("id") if reply is not None else None,
        reply_to_jid=reply.get("to") if reply is not None else None,
        delay_stamp=datetime.fromisoformat(stamp) if stamp else None,
        receipt_requested=_child(xml, _RECEIPTS_NS, "request") is not None,
        error_condition=condition,
        error_text=text,
    )


class ImClient:
    """One client session of ``jid`` on the XMPP server at ``host:port``."""

    def __init__(self, jid: str, password: str, host: str, port: int, *, send_receipts: bool = True) -> None:
        self.jid = jid
        self.host = host
        self.port = port
        self.xmpp = slixmpp.ClientXMPP(jid, password)
        self.xmpp.enable_starttls = False
        self.xmpp.enable_direct_tls = False
        self.xmpp.enable_plaintext = True
        self.xmpp.plugin["feature_mechanisms"].unencrypted_plain = True
        for name in _PLUGINS:
            self.xmpp.register_plugin(name)
        self.xmpp.plugin["xep_0184"].auto_ack = send_receipts
        self.history: list[ReceivedMessage] = []
        self.receipts: list[str] = []  # ids of our messages whose receipt came back
        self.presences: dict[str, str] = {}  # bare JID -> "available", "away", ..., "unavailable"
        self._queue: asyncio.Queue[ReceivedMessage] = asyncio.Queue()
        self._started: asyncio.Future[None] | None = None
        self._session = asyncio.Event()
        self._disconnected = asyncio.Event()
        self._own_presence: str | None = None  # our presence as the server last broadcast it back to us
        self._own_presence_changed = asyncio.Event()
        self.xmpp.register_handler(Callback("ImClient message", StanzaPath("message"), self._on_message))
        self.xmpp.add_event_handler("presence", self._on_presence)
        self.xmpp.add_event_handler("receipt_received", self._on_receipt)
        self.xmpp.add_event_handler("session_start", self._on_session_start)
        self.xmpp.add_event_handler("failed_all_auth", self._on_failed_auth)
        self.xmpp.add_event_handler("disconnected", self._on_disconnected)

    @classmethod
    async def connect_as(
        cls, jid: str, password: str, host: str, port: int, *, timeout: float = 10.0, presence: bool = True
    ) -> ImClient:
        client = cls(jid, password, host, port)
        await client.connect(timeout=timeout, presence=presence)
        return client

    # -- session ----------------------------------------------------------------------------------------
    async def connect(self, *, timeout: float = 10.0, presence: bool = True) -> None:
        """Open a session; with ``presence`` fetch the roster and send initial presence (offline messages
        are delivered after it)."""
        self._started = asyncio.get_running_loop().create_future()
        self._session.clear()
        self._disconnected.clear()
        self.xmpp.connect(host=self.host, port=self.port)
        try:
            await asyncio.wait_for(asyncio.shield(self._started), timeout)
        except (TimeoutError, ImClientError) as exc:
            self.xmpp.cancel_connection_attempt()
            self.xmpp.abort()
            await self._cancel_filters()
            if isinstance(exc, ImClientError):
                raise
            raise ImClientError(f"{self.jid}: no session on {self.host}:{self.port} within {timeout} s") from None
        finally:
            self._started = None  # a late outcome has nobody to report to
        if presence:
            await self.xmpp.get_roster(timeout=timeout)
            await self.send_presence(timeout=timeout)

    async def reconnect(self, *, timeout: float = 10.0, presence: bool = True) -> None:
        """A new session on this same client (after the server went away)."""
        if self.connected:
            await self.xmpp.disconnect()
        await self.connect(timeout=timeout, presence=presence)

    @property
    def connected(self) -> bool:
        return self._session.is_set() and not self._disconnected.is_set()

    async def wait_disconnected(self, timeout: float = 10.0) -> None:
        """Until the server closes the stream or the connection drops."""
        try:
            await asyncio.wait_for(self._disconnected.wait(), timeout)
        except TimeoutError:
            raise ImClientError(f"{self.jid}: still connected after {timeout} s") from None

    async def close(self) -> None:
        """Close the stream and wait for it to end; safe to call twice or after the server went away."""
        self.xmpp.cancel_connection_attempt()  # a retry slixmpp scheduled after a refused connect
        if self.xmpp.is_connected():
            await self.xmpp.disconnect()
        await self._cancel_filters()

    async def _cancel_filters(self) -> None:
        # slixmpp leaves its outgoing-filter task pending after a disconnect; a loop closed with it still
        # pending logs "Task was destroyed but it is pending!".
        task: asyncio.Future[Any] | None = getattr(self.xmpp, "_run_out_filters", None)
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def __aenter__(self) -> ImClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- events -----------------------------------------------------------------------------------------
    def _on_session_start(self, _event: object) -> None:
        self._session.set()
        if self._started is not None and not self._started.done():
            self._started.set_result(None)

    def _on_failed_auth(self, _event: object) -> None:
        if self._started is not None and not self._started.done():
            self._started.set_exception(ImClientError(f"{self.jid}: the server refused the password"))

    def _on_disconnected(self, _event: object) -> None:
        self._disconnected.set()

    def _on_message(self, stanza: StanzaBase) -> None:
        received = _parse_message(stanza.xml)
        if received.body or received.type == "error":  # chat states and receipts carry no body
            self.history.append(received)
            self._queue.put_nowait(received)

    def _on_presence(self, presence: Presence) -> None:
        kind = presence["type"]
        if kind in ("available", "away", "xa", "dnd", "chat", "unavailable"):
            self.presences[str(presence["from"]).split("/")[0]] = kind
            if str(presence["from"]) == self.xmpp.boundjid.full:
                self._own_presence = kind
                self._own_presence_changed.set()

    def _on_receipt(self, stanza: Message) -> None:
        self.receipts.append(str(stanza["receipt"]))

    # -- messages ---------------------------------------------------------------------------------------
    async def send_presence(self, show: Show | None = None, status: str | None = None, timeout: float = 5.0) -> None:
        """Available (``show=None``), away, xa, dnd or chat; returns once the server has broadcast it back to
        this session, so the server routes by it from then on (a message sent to the bare JID before the
        initial presence is processed goes to offline storage)."""
        expected = show or "available"
        self._own_presence = None
        self._own_presence_changed.clear()
        self.xmpp.send_presence(pshow=show, pstatus=status)
        try:
            async with asyncio.timeout(timeout):
                while self._own_presence != expected:
                    await self._own_presence_changed.wait()
                    self._own_presence_changed.clear()
        except TimeoutError:
            raise ImClientError(f"{self.jid}: the server did not confirm presence {expected!r}") from None

    def send(
        self,
        to: str,
        body: str,
        *,
        reply_to_id: str | None = None,
        reply_to_jid: str | None = None,
        reply_fallback: str | None = None,
        origin_id: str | None = None,
        request_receipt: bool = False,
        type_: Literal["chat", "normal"] = "chat",
    ) -> str:
        """Send a chat message; returns its stanza id. A reply (XEP-0461) names ``reply_to_jid`` (default
        ``to``) as the quoted author; ``reply_fallback`` adds the quoted text (XEP-0428) before ``body``."""
        message = self.xmpp.make_message(mto=to, mbody=body, mtype=type_)
        message["id"] = self.xmpp.new_id()
        if origin_id is not None:
            message["origin_id"]["id"] = origin_id
        if reply_to_id is not None:
            message["reply"]["id"] = reply_to_id
            message["reply"]["to"] = reply_to_jid or to
            if reply_fallback is not None:
                message["reply"].add_quoted_fallback(reply_fallback)
        if request_receipt:
            message["request_receipt"] = True
        message.send()
        stanza_id: str = message["id"]
        return stanza_id

    def send_chat_state(self, to: str, state: ChatState = "composing") -> None:
        """A typing notification (XEP-0085): a message without a body."""
        message = self.xmpp.make_message(mto=to, mtype="chat")
        message["chat_state"] = state
        message.send()

    async def next_message(self, timeout: float = 5.0) -> ReceivedMessage:
        """The oldest received message not yet taken from the queue."""
        try:
            return await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            raise ImClientError(f"{self.jid}: no message within {timeout} s") from None

    async def expect_silence(self, seconds: float = 0.5) -> None:
        """Fails if a message arrives within ``seconds``."""
        with contextlib.suppress(TimeoutError):
            unexpected = await asyncio.wait_for(self._queue.get(), seconds)
            raise ImClientError(f"{self.jid}: unexpected message {unexpected}")

    def messages_from(self, jid: str) -> list[ReceivedMessage]:
        """Every message received so far from this bare (or full) JID, queued or not."""
        bare = jid.split("/")[0]
        return [message for message in self.history if message.sender == bare]

    # -- roster and subscriptions ------------------------------------------------------------------------
    def subscribe(self, jid: str) -> None:
        """Ask for ``jid``'s presence: adds it to the roster, as a client's "add contact" does."""
        self.xmpp.send_presence(pto=jid, ptype="subscribe")

    def unsubscribe(self, jid: str) -> None:
        """Stop receiving ``jid``'s presence (the roster item stays)."""
        self.xmpp.send_presence(pto=jid, ptype="unsubscribe")

    async def remove_contact(self, jid: str, timeout: float = 5.0) -> None:
        """Delete the roster item: the server cancels the subscriptions both ways."""
        done = self.xmpp.update_roster(slixmpp.JID(jid), subscription="remove")
        if done is not None:
            await asyncio.wait_for(done, timeout)

    async def roster(self, timeout: float = 5.0) -> dict[str, str]:
        """The server's roster: bare JID -> subscription (none, to, from, both)."""
        await self.xmpp.get_roster(timeout=timeout)
        items = self.xmpp.client_roster
        return {jid: str(items[jid]["subscription"]) for jid in items}

    async def wait_for_subscription(
        self, jid: str, states: tuple[str, ...] = ("to", "both"), timeout: float = 5.0
    ) -> str:
        """Until roster pushes have made ``jid``'s subscription one of ``states``; returns it."""
        deadline = asyncio.get_running_loop().time() + timeout
        items = self.xmpp.client_roster
        while True:
            state = str(items[jid]["subscription"]) if items.has_jid(jid) else "none"
            if state in states:
                return state
            if asyncio.get_running_loop().time() > deadline:
                raise ImClientError(f"{self.jid}: subscription to {jid} is {state!r} after {timeout} s")
            await asyncio.sleep(_POLL_INTERVAL)

    # -- service discovery -----------------------------------------------------------------------------------
    async def disco_info(self, jid: str, node: str | None = None, timeout: float = 5.0) -> DiscoInfo:
        disco: Any = self.xmpp.plugin["xep_0030"]
        result: Any = await disco.get_info(jid=jid, node=node, timeout=timeout, cached=False)
        query = _child(result.xml, _DISCO_INFO_NS, "query")
        if query is None:
            raise ImClientError(f"{self.jid}: disco#info of {jid} has no query")
        identities = tuple(
            DiscoIdentity(item.get("category", ""), item.get("type", ""), item.get("name"))
            for item in query.iter(f"{{{_DISCO_INFO_NS}}}identity")
        )
        features = frozenset(item.get("var", "") for item in query.iter(f"{{{_DISCO_INFO_NS}}}feature"))
        return DiscoInfo(identities, features)

    async def disco_items(self, jid: str, node: str | None = None, timeout: float = 5.0) -> list[DiscoItem]:
        """The items in the order the server listed them."""
        disco: Any = self.xmpp.plugin["xep_0030"]
        result: Any = await disco.get_items(jid=jid, node=node, timeout=timeout)
        query = _child(result.xml, _DISCO_ITEMS_NS, "query")
        if query is None:
            raise ImClientError(f"{self.jid}: disco#items of {jid} has no query")
        return [
            DiscoItem(item.get("jid", ""), item.get("node"), item.get("name"))
            for item in query.iter(f"{{{_DISCO_ITEMS_NS}}}item")
        ]
