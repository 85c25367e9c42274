"""Reading a Server-Sent Events response as the browser's EventSource would, one event at a time."""

from __future__ import annotations

import asyncio

from aiohttp import StreamReader


async def next_fields(content: StreamReader, within: float) -> dict[str, str]:
    """The fields of the next event block (``event``, ``id``, ``data``...); comment lines are skipped, so a
    keep-alive comment or the retry hint comes back as a block without ``data``."""
    block = await asyncio.wait_for(content.readuntil(b"\n\n"), within)
    fields: dict[str, str] = {}
    for line in block.decode().splitlines():
        if line and not line.startswith(":"):
            name, _, value = line.partition(": ")
            fields[name] = value
    return fields
