"""The server's confirmation that it routed what the component sent: the answer to an iq ping.

A component connection (XEP-0114) acknowledges nothing per stanza, but the stream is ordered: once the
server answers a ping, it has routed everything sent before it. ``XmppBridge.request_confirmation`` sends
the ping at once and returns a ``Confirmation``; the caller may go on sending (the outbound worker keeps a
few in flight) and ``await confirmation.wait()`` later.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from slixmpp.exceptions import IqError

# While waiting for a confirmation: how often to send the whitespace that carries our TCP acknowledgement.
NUDGE_SECONDS = 0.003


class BridgeDisconnected(Exception):
    """The XMPP stream is down (or was replaced): what was sent is not confirmed."""


class Confirmation:
    """One ping in flight. ``wait`` returns once the server answered it, and raises BridgeDisconnected when
    it cannot be promised: the stream dropped first, no answer before the deadline, or ``refused`` (the
    ping could not even be sent)."""

    def __init__(
        self,
        answer: Awaitable[Any] | None,
        lost: asyncio.Future[None] | None,
        timeout: float,
        nudge: Callable[[], None],
        refused: str | None = None,
    ) -> None:
        self._answer = asyncio.ensure_future(answer) if answer is not None else None
        self._lost = lost
        self._deadline = asyncio.get_running_loop().time() + timeout
        self._nudge = nudge
        self._refused = refused

    def answered(self) -> bool:
        """True once the server's answer is in (``wait`` then returns at once)."""
        return self._answer is not None and self._answer.done() and _is_answer(self._answer)

    async def wait(self) -> None:
        if self._refused is not None or self._answer is None or self._lost is None:
            raise BridgeDisconnected(self._refused or "not connected")
        answer, lost = self._answer, self._lost
        loop = asyncio.get_running_loop()
        done: set[asyncio.Future[Any]] = {answer} if answer.done() else set()
        while not done and (remaining := self._deadline - loop.time()) > 0:
            done, _ = await asyncio.wait(
                {answer, lost}, timeout=min(NUDGE_SECONDS, remaining), return_when=asyncio.FIRST_COMPLETED
            )
            if not done:
                # Servers keep Nagle's algorithm on (Prosody does), so the small ping answer waits until we
                # acknowledge what the server sent before (receipts), and our kernel delays that
                # acknowledgement by up to 40 ms while we have nothing to send. Whitespace between stanzas
                # is allowed on an XMPP stream (RFC 6120 §4.6.1) and carries the acknowledgement at once.
                self._nudge()
        if answer not in done:
            answer.cancel()
            raise BridgeDisconnected("the stream dropped before the server confirmed" if lost.done() else "no answer")
        if not _is_answer(answer):
            raise BridgeDisconnected(f"no confirmation: {answer.exception()!r}")


def _is_answer(answer: asyncio.Future[Any]) -> bool:
    """An error answer is an answer too: the server processed the stream up to the ping. A timeout is not."""
    if answer.cancelled():
        return False
    error = answer.exception()
    return error is None or isinstance(error, IqError)
