"""The bridge owns its connection: slixmpp never reconnects a dropped stream by itself.

- ``disconnected`` (the server restarted, the network dropped, the handshake was refused): connect again
  after a back-off that starts at 0.5 s and doubles up to ``max_delay`` (10 s by default);
- ``connection_failed`` (the port refused): slixmpp would retry on its own schedule, 3 s, 9 s, 21 s, ...,
  past our cap, so its attempt is cancelled and ours is scheduled instead;
- ``session_start`` resets the back-off;
- after our own :meth:`stop`, nothing more.

One retry is pending at most: a refused connect and a lost stream arriving together schedule one attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

log = logging.getLogger(__name__)

INITIAL_DELAY = 0.5
_DISCONNECT_WAIT = 2.0


class Reconnector:
    def __init__(self, component: Any, max_delay: float, initial_delay: float = INITIAL_DELAY) -> None:
        self._component = component
        self._initial = min(initial_delay, max_delay)
        self._max = max_delay
        self._delay = self._initial
        self._retry: asyncio.TimerHandle | None = None
        self._stopping = True  # until start()
        self.attempts = 0  # connection attempts so far (for logs and tests)
        component.add_event_handler("session_start", self._on_session_start)
        component.add_event_handler("disconnected", self._on_disconnected)
        component.add_event_handler("connection_failed", self._on_connection_failed)

    @property
    def stopping(self) -> bool:
        """True after stop(): a disconnect now is our own doing."""
        return self._stopping

    @property
    def next_delay(self) -> float:
        return self._delay

    def start(self) -> None:
        if not self._stopping:
            return  # already running: a second connect() would open a second stream
        self._stopping = False
        self._delay = self._initial
        self._connect()

    def _connect(self) -> None:
        self._retry = None
        if self._stopping:
            return
        self.attempts += 1
        # The returned future is slixmpp's connection attempt; its outcome arrives as events.
        self._component.connect()

    def _on_session_start(self, _event: object) -> None:
        self._delay = self._initial

    def _on_disconnected(self, reason: object) -> None:
        self._schedule("the stream ended", reason)

    def _on_connection_failed(self, reason: object) -> None:
        # Stop slixmpp's own retry loop (it would wait 3 s, 9 s, 21 s, ...); ours follows.
        self._component.cancel_connection_attempt()
        self._schedule("connecting failed", reason)

    def _schedule(self, why: str, reason: object) -> None:
        if self._stopping or self._retry is not None:
            return
        delay = self._delay
        self._delay = min(self._delay * 2, self._max)
        log.warning("XMPP component: %s (%s); connecting again in %.1f s", why, reason or "no reason given", delay)
        self._retry = asyncio.get_running_loop().call_later(delay, self._connect)

    async def stop(self) -> None:
        """Close the stream (if open) and never connect again."""
        self._stopping = True
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        component = self._component
        component.cancel_connection_attempt()
        if component.transport is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(component.disconnect(wait=_DISCONNECT_WAIT), _DISCONNECT_WAIT * 2)
        # slixmpp leaves its outgoing-filter task pending after a disconnect; a loop closed with it pending
        # logs "Task was destroyed but it is pending!".
        filters: asyncio.Future[Any] | None = getattr(component, "_run_out_filters", None)
        if filters is not None and not filters.done():
            filters.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await filters
