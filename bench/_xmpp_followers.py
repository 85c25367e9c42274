"""The XMPP relay benchmark's followers: real slixmpp clients in a process of their own.

    python -m bench._xmpp_followers PORT JID:PASSWORD ...

They stand for people at their own machines: their XML parsing must not slow down the process being
measured (the bridge's, where it would stretch every database round trip). One JSON document a line:

- the process prints ``"ready"`` once every client is online (initial presence sent);
- ``["expect", n]`` on stdin arms a count and is answered ``"armed"``; once ``n`` messages have arrived it
  prints the list of ``[origin_id, arrival]`` (``time.monotonic()``: one clock for every process on Linux);
- end of input closes the clients and ends the process.

Clients acknowledge receipts (XEP-0184) as ordinary clients do, so the bridge pays for recording them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from typing import Any

import slixmpp

TIMEOUT = 120.0
_ORIGIN_ID = "{urn:xmpp:sid:0}origin-id"


class Arrivals:
    def __init__(self) -> None:
        self.times: list[tuple[str, float]] = []
        self.expected = 0
        self.done = asyncio.Event()

    def arrived(self, origin_id: str) -> None:
        self.times.append((origin_id, time.monotonic()))
        if len(self.times) >= self.expected:
            self.done.set()

    def expect(self, count: int) -> None:
        self.times = []
        self.expected = count
        self.done.clear()


class Follower:
    def __init__(self, jid: str, password: str, port: int, arrivals: Arrivals) -> None:
        self.port = port
        self.xmpp: Any = slixmpp.ClientXMPP(jid, password)
        self.xmpp.enable_starttls = False
        self.xmpp.enable_direct_tls = False
        self.xmpp.enable_plaintext = True
        self.xmpp.plugin["feature_mechanisms"].unencrypted_plain = True
        self.xmpp.register_plugin("xep_0184")
        self.xmpp.plugin["xep_0184"].auto_ack = True
        self.xmpp.add_event_handler("message", self._on_message)
        self._arrivals = arrivals

    def _on_message(self, message: Any) -> None:
        origin = message.xml.find(_ORIGIN_ID)
        if origin is not None:
            self._arrivals.arrived(origin.get("id", ""))

    async def connect(self) -> None:
        started = asyncio.ensure_future(self.xmpp.wait_until("session_start", TIMEOUT))
        self.xmpp.connect(host="127.0.0.1", port=self.port)
        await started
        # Initial presence: without it the server keeps messages to the bare JID in offline storage.
        available = asyncio.ensure_future(self.xmpp.wait_until("presence_available", TIMEOUT))
        self.xmpp.send_presence()
        await available

    async def close(self) -> None:
        await self.xmpp.disconnect()
        # slixmpp leaves its outgoing-filter task pending after a disconnect.
        task: asyncio.Future[Any] | None = getattr(self.xmpp, "_run_out_filters", None)
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _say(document: object) -> None:
    sys.stdout.write(json.dumps(document) + "\n")
    sys.stdout.flush()


async def _serve(port: int, accounts: list[tuple[str, str]]) -> None:
    arrivals = Arrivals()
    followers = [Follower(jid, password, port, arrivals) for jid, password in accounts]
    try:
        await asyncio.gather(*(follower.connect() for follower in followers))
        _say("ready")
        while line := await asyncio.to_thread(sys.stdin.readline):
            _, count = json.loads(line)
            arrivals.expect(count)
            _say("armed")
            await asyncio.wait_for(arrivals.done.wait(), TIMEOUT)
            _say(arrivals.times)
    finally:
        for follower in followers:
            await follower.close()


def main(argv: list[str]) -> int:
    port, *accounts = argv
    asyncio.run(_serve(int(port), [tuple(account.split(":", 1)) for account in accounts]))  # type: ignore[misc]
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
