"""The announcement benchmark's receiving side: a second component domain that counts every message.

    python -m bench._xmpp_sink PORT DOMAIN SECRET

10,000 client sessions are impractical on two cores, so the benchmark's users have their XMPP addresses on
``DOMAIN`` (``sink.example.com``), an external component (XEP-0114) of the same Prosody: whatever the
bridge or the raw sender sends them crosses Prosody's router as it would to real people, and arrives here.
Standard library only (the stream parsed by expat, no stanza objects), so that counting never becomes the
bottleneck being measured. One JSON document a line on stdout:

- ``"ready"`` once the component is authenticated;
- ``["expect", n, prefix]`` on stdin (answered ``"armed"``) counts messages whose origin-id starts with
  ``prefix``, by (recipient, origin-id), until ``n`` distinct ones have arrived (or nothing came for
  ``QUIET`` seconds), then a further ``LINGER`` seconds so that late duplicates are counted too, and prints
  ``{"distinct", "total", "recipients", "first", "last"}`` (``time.monotonic()`` of the first and of the
  n-th distinct arrival);
- end of input closes the stream and ends the process.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import sys
import time
from typing import TypeAlias, cast
from xml.etree.ElementTree import Element, XMLPullParser

STREAM_NS = "http://etherx.jabber.org/streams"
COMPONENT_NS = "jabber:component:accept"
ORIGIN_ID = "{urn:xmpp:sid:0}origin-id"
QUIET = 30.0
LINGER = 1.0


class Count:
    def __init__(self) -> None:
        self.prefix = "\0"
        self.expected = 0
        self.seen: set[tuple[str, str]] = set()
        self.total = 0
        self.first = 0.0
        self.last = 0.0
        self.complete = asyncio.Event()
        self.latest_arrival = 0.0

    def arm(self, expected: int, prefix: str) -> None:
        self.prefix, self.expected = prefix, expected
        self.seen, self.total, self.first, self.last = set(), 0, 0.0, 0.0
        self.complete.clear()

    def arrived(self, recipient: str, origin_id: str) -> None:
        if not origin_id.startswith(self.prefix):
            return
        now = time.monotonic()
        self.latest_arrival = now
        self.total += 1
        self.first = self.first or now
        key = (recipient.split("/", 1)[0], origin_id)
        if key not in self.seen:
            self.seen.add(key)
            if len(self.seen) == self.expected:
                self.last = now
                self.complete.set()

    def summary(self) -> dict[str, object]:
        return {
            "distinct": len(self.seen),
            "total": self.total,
            "recipients": len({recipient for recipient, _ in self.seen}),
            "first": self.first,
            "last": self.last or self.latest_arrival,
        }


Parser: TypeAlias = "XMLPullParser[Element]"


async def _read_stream(reader: asyncio.StreamReader, parser: Parser, count: Count, ready: asyncio.Event) -> None:
    depth = 0
    root: Element | None = None
    while chunk := await reader.read(1 << 16):
        parser.feed(chunk)
        for item in parser.read_events():
            # Only "start" and "end" were asked for: each comes with its element.
            kind, element = cast("tuple[str, Element]", item)
            if kind == "start":
                root = root if root is not None else element
                depth += 1
                continue
            depth -= 1
            if depth != 1:
                continue  # only whole stanzas, the stream element's children
            tag = element.tag.rsplit("}", 1)[-1]
            if tag == "handshake":
                ready.set()
            elif tag == "message":
                origin = element.find(ORIGIN_ID)
                if origin is not None:
                    count.arrived(element.get("to", ""), origin.get("id", ""))
            elif tag == "error":
                raise RuntimeError(f"stream error: {[child.tag for child in element]}")
        if root is not None:
            root.clear()  # stanzas already counted: the stream element need not keep them


def _say(document: object) -> None:
    sys.stdout.write(json.dumps(document) + "\n")
    sys.stdout.flush()


async def _serve(port: int, domain: str, secret: str) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"<stream:stream xmlns='{COMPONENT_NS}' xmlns:stream='{STREAM_NS}' to='{domain}'>".encode())
    head = await reader.readuntil(b">")
    while b"stream:stream" not in head:  # after the XML declaration: the stream element's start tag
        head += await reader.readuntil(b">")
    found = re.search(rb"""\sid=['"]([^'"]+)['"]""", head)
    if found is None:
        raise RuntimeError(f"no stream id in {head!r}")
    stream_id = found.group(1)
    parser: Parser = XMLPullParser(events=("start", "end"))
    parser.feed(head)
    # XEP-0114 names SHA-1 for the handshake.
    proof = hashlib.sha1(stream_id + secret.encode(), usedforsecurity=False).hexdigest()
    writer.write(f"<handshake>{proof}</handshake>".encode())
    count, ready = Count(), asyncio.Event()
    receiving = asyncio.create_task(_read_stream(reader, parser, count, ready))
    await asyncio.wait_for(ready.wait(), 30)
    _say("ready")
    try:
        while line := await asyncio.to_thread(sys.stdin.readline):
            _, expected, prefix = json.loads(line)
            count.arm(int(expected), str(prefix))
            _say("armed")
            armed_at = time.monotonic()
            while not count.complete.is_set():
                try:
                    await asyncio.wait_for(count.complete.wait(), 1.0)
                except TimeoutError:
                    quiet_since = max(count.latest_arrival, armed_at)
                    if time.monotonic() - quiet_since > QUIET or receiving.done():
                        break  # some never came: the summary says how many
            await asyncio.sleep(LINGER)
            _say(count.summary())
    finally:
        writer.write(b"</stream:stream>")
        writer.close()
        receiving.cancel()


def main(argv: list[str]) -> int:
    port, domain, secret = argv
    asyncio.run(_serve(int(port), domain, secret))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
