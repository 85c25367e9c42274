"""``XmppBridge``: the XMPP component, connected and kept connected, and what the rest of intrablog uses.

Lifecycle: ``await start()`` returns at once and connects in the background (and keeps reconnecting, see
``reconnect.py``), so intrablog starts even while the XMPP server is down; ``await wait_connected(t)``
waits for a session. ``await stop()`` closes the stream; nothing reconnects afterwards. Build the bridge
inside the event loop that will run it: slixmpp binds futures to the loop current at construction.

For the outbound worker: ``send_message`` (one chat message, stanza id = origin-id) and ``confirm`` (an iq
ping to the server: the stream is ordered, so its answer means the server has routed everything sent
before it, in this session); ``request_confirmation`` sends the ping without waiting for the answer, so
that the worker can keep sending meanwhile. ``confirm`` raises ``BridgeDisconnected`` when that cannot be promised: the
stream dropped before the answer, no answer in time, or the stream was replaced since the last ``confirm``
(what was sent on the old stream may be lost, so the worker sends it again).

Receipts (XEP-0184) are handed to the receipt listeners and not recorded here: the outbound worker owns
delivery state and records them (``services.delivery.record_receipt``), so there is one writer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from bridges.xmpp import component as stanzas
from bridges.xmpp.addresses import Addresses
from bridges.xmpp.confirmation import BridgeDisconnected as BridgeDisconnected  # re-exported: the API raises it
from bridges.xmpp.confirmation import Confirmation
from bridges.xmpp.directory import Directory
from bridges.xmpp.inbound import Inbound, post_id_of_origin
from bridges.xmpp.listeners import Listeners
from bridges.xmpp.ordering import PerSender
from bridges.xmpp.presence import PresenceBook
from bridges.xmpp.reconnect import Reconnector
from bridges.xmpp.replies import post_url
from bridges.xmpp.subscriptions import Subscriptions
from bridges.xmpp.templates import StanzaTemplates
from intrablog.config import XmppConfig
from intrablog.domain.im import Presence, bare_jid
from intrablog.services.facade import Services

log = logging.getLogger(__name__)


class XmppBridge:
    def __init__(self, services: Services, config: XmppConfig, public_url: str) -> None:
        asyncio.get_running_loop()  # raises RuntimeError outside a loop: see the module docstring
        self.services = services
        self.config = config
        self.public_url = public_url.rstrip("/")
        self.addresses = Addresses(config.domain)
        self.component: Any = stanzas.make_component(config)
        self._templates = StanzaTemplates(self.component)  # what send_message sends, built once per message
        self._session_listeners: Listeners[[]] = Listeners("session")
        self._receipt_listeners: Listeners[[str, str]] = Listeners("receipt")
        self._presence_listeners: Listeners[[str, Presence, Presence]] = Listeners("presence")
        self.presence = PresenceBook(on_change=self._presence_listeners.notify)
        self._reconnector = Reconnector(self.component, config.reconnect_max_delay)
        in_order = PerSender()
        self._inbound = Inbound(services, self.addresses, self.public_url, self._say, self._acknowledge, in_order)
        self._subscriptions = Subscriptions(services, self.addresses, self.component, self.presence, in_order)
        self._directory = Directory(services, self.addresses, self.public_url, self.component)
        self._session_up = asyncio.Event()
        self._session = 0  # counts sessions: a confirmation only covers what its own session sent
        self._session_lost: asyncio.Future[None] | None = None
        self._unconfirmed_session: int | None = None  # session of the oldest send not yet confirmed
        self._probed: set[str] = set()  # people whose presence this session asked for
        self.component.add_event_handler("session_start", self._on_session_start)
        self.component.add_event_handler("disconnected", self._on_disconnected)
        self.component.add_event_handler("message", self._inbound.on_message)
        self.component.add_event_handler("receipt_received", self._on_receipt)
        self.component.add_event_handler("message_error", self._on_message_error)
        self.component.add_event_handler("stream_error", self._on_stream_error)

    # -- lifecycle ---------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start connecting (in the background, retrying until ``stop``); returns at once."""
        log.info("XMPP bridge connecting", extra={"domain": self.config.domain, "port": self.config.port})
        self._reconnector.start()

    async def wait_connected(self, timeout: float = 10) -> None:  # noqa: ASYNC109 - a deadline is the API
        """Until a session is up; BridgeDisconnected after ``timeout`` seconds."""
        try:
            await asyncio.wait_for(self._session_up.wait(), timeout)
        except TimeoutError:
            raise BridgeDisconnected(
                f"no session with {self.config.host}:{self.config.port} as {self.config.domain} within {timeout} s"
            ) from None

    async def stop(self) -> None:
        await self._reconnector.stop()
        self._session_up.clear()
        for listeners in (self._session_listeners, self._receipt_listeners, self._presence_listeners):
            await listeners.close()
        log.info("XMPP bridge stopped")

    @property
    def connected(self) -> bool:
        return self._session_up.is_set()

    @property
    def session(self) -> int:
        """Counts sessions (0 before the first): a ping confirms only what went out in its own session."""
        return self._session

    @property
    def bot_jid(self) -> str:
        return self.addresses.bot_jid

    def add_session_listener(self, callback: Callable[[], object]) -> None:
        """``callback()`` after every session start (the first and each reconnect); sync or async."""
        self._session_listeners.add(callback)

    def add_receipt_listener(self, callback: Callable[[str, str], object]) -> None:
        """``callback(bare_jid, origin_id)`` for each XEP-0184 receipt received; sync or async."""
        self._receipt_listeners.add(callback)

    def add_presence_listener(self, callback: Callable[[str, Presence, Presence], object]) -> None:
        """``callback(bare_jid, old, new)`` when a person's presence changes; sync or async."""
        self._presence_listeners.add(callback)

    # -- the outbound worker's API ---------------------------------------------------------------------

    def send_message(
        self,
        to_bare: str,
        from_address: str,
        body: str,
        origin_id: str,
        reply_to_origin: str | None = None,
        reply_to_jid: str | None = None,
        request_receipt: bool = True,
    ) -> None:
        """One chat message from ``from_address`` (one of ours, else ``OutsideDomain``): stanza id and
        XEP-0359 origin-id are ``origin_id``; with ``reply_to_origin`` an XEP-0461 reply (and an XEP-0428
        fallback quoting the post's link for clients without replies).

        Sending only queues the stanza on the stream, so this is a plain call; what was queued counts as
        delivered only once ``confirm()`` returns. BridgeDisconnected is raised when there is no session.
        """
        if not self.connected:
            raise self._not_confirmed("not connected")
        sender = self.addresses.full(from_address)
        to = bare_jid(to_bare)
        if self._unconfirmed_session is None:
            self._unconfirmed_session = self._session
        if not self.presence.known(to) and to not in self._probed:
            # Unknown since we (re)started: ask, so that presence rules apply from the next message on.
            self._probed.add(to)
            stanzas.send_serialised(self.component, self._templates.probe(to=to, sender=bare_jid(sender)))
        replied_post = post_id_of_origin(reply_to_origin) if reply_to_origin is not None else None
        fallback = f"in reply to {post_url(self.public_url, replied_post)}" if replied_post is not None else None
        message = self._templates.chat(
            to=to,
            sender=sender,
            body=body,
            stanza_id=origin_id,
            reply_to_id=reply_to_origin,
            reply_to_jid=reply_to_jid,
            reply_fallback=fallback,
            request_receipt=request_receipt,
        )
        stanzas.send_serialised(self.component, message)

    async def confirm(self, timeout: float = 10) -> None:  # noqa: ASYNC109 - a deadline is the API
        """Return once the server has answered an iq ping sent after everything sent so far."""
        await self.request_confirmation(timeout).wait()

    def request_confirmation(self, timeout: float = 10) -> Confirmation:
        """Send an iq ping now, after everything sent so far, without waiting: the outbound worker goes on
        sending while the server works through what came before (``await confirmation.wait()`` later).
        Each covers what was sent since the previous request; it fails when that cannot be promised (no
        stream, or a stream replaced since those messages were sent)."""
        sent_in, self._unconfirmed_session = self._unconfirmed_session, None
        if not self.connected or self._session_lost is None:
            return self._refused("not connected", timeout)
        if sent_in is not None and sent_in != self._session:
            return self._refused("the stream was replaced since those messages were sent", timeout)
        answer = stanzas.ping(
            self.component, to=self.config.server_domain, sender=self.addresses.bot_jid, timeout=timeout
        )
        return Confirmation(answer, self._session_lost, timeout, self._nudge)

    def _refused(self, why: str, timeout: float) -> Confirmation:
        return Confirmation(None, None, timeout, self._nudge, refused=why)

    def _nudge(self) -> None:
        """Whitespace between stanzas (see ``Confirmation.wait``)."""
        if self.component.transport is not None:
            self.component.send_raw(" ")

    def _not_confirmed(self, why: str) -> BridgeDisconnected:
        """The error to raise; the caller now knows everything unconfirmed must be sent again, so a later
        confirm covers only what is sent from here on."""
        self._unconfirmed_session = None
        return BridgeDisconnected(why)

    # -- events ------------------------------------------------------------------------------------------

    def _on_session_start(self, _event: object) -> None:
        self._session += 1
        self._session_lost = asyncio.get_running_loop().create_future()
        self._probed.clear()
        self._session_up.set()
        log.info("XMPP session started", extra={"domain": self.config.domain, "session": self._session})
        self._subscriptions.probe_known()
        self._session_listeners.notify()

    def _on_disconnected(self, reason: object) -> None:
        was_up = self._session_up.is_set()
        self._session_up.clear()
        if self._session_lost is not None and not self._session_lost.done():
            self._session_lost.set_result(None)
        if was_up and not self._reconnector.stopping:
            log.warning("XMPP session lost", extra={"reason": str(reason or "")})

    def _on_receipt(self, stanza: Any) -> None:
        if not self.addresses.is_ours(stanzas.jid_of(stanza, "to")):
            return
        received = stanzas.text_of(stanza, "receipt")
        if received:
            self._receipt_listeners.notify(bare_jid(stanzas.jid_of(stanza, "from")), received)

    def _on_message_error(self, stanza: Any) -> None:
        # e.g. resource-constraint when a person's offline storage is full: the receipt never comes, and
        # the outbound worker sends again later.
        stanza_id, to = stanzas.text_of(stanza, "id"), stanzas.jid_of(stanza, "from")
        condition = stanzas.error_condition(stanza)
        log.warning("message %s to %s bounced: %s", stanza_id, to, condition, extra={"condition": condition})

    def _on_stream_error(self, stanza: Any) -> None:
        # conflict: another bridge connected for the same domain (only one may be).
        condition, text = stanzas.text_of(stanza, "condition"), stanzas.text_of(stanza, "text")
        log.error("XMPP stream error: %s %s", condition, text, extra={"condition": condition})

    # -- answers from our addresses -------------------------------------------------------------------------

    def _say(self, to: str, from_bare: str, body: str) -> None:
        stanzas.send_chat(self.component, to=to, sender=self.addresses.full(from_bare), body=body)

    def _acknowledge(self, to: str, from_bare: str, received_id: str) -> None:
        stanzas.send_receipt(self.component, to=to, sender=self.addresses.full(from_bare), received_id=received_id)
