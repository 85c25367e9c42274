"""Time-sortable 63-bit post ids: milliseconds since 2024-01-01, a node tag, a per-millisecond sequence.

Ordering by id is ordering by creation time, so a cursor ``before=<id>`` pages stably while others write,
and ids from several processes never collide (each draws its own random node tag).
"""

from __future__ import annotations

import secrets
import threading
from datetime import UTC, datetime

EPOCH_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z
NODE_BITS = 10
SEQUENCE_BITS = 12
_MAX_SEQUENCE = (1 << SEQUENCE_BITS) - 1


class IdGenerator:
    def __init__(self, node: int | None = None) -> None:
        self._node = secrets.randbelow(1 << NODE_BITS) if node is None else node % (1 << NODE_BITS)
        self._last_ms = -1
        self._sequence = 0
        self._lock = threading.Lock()

    def next_id(self, now: datetime) -> int:
        ms = max(int(now.timestamp() * 1000) - EPOCH_MS, 0)
        with self._lock:
            if ms <= self._last_ms:
                # Same (or a clock that went back) millisecond: keep increasing, borrowing the next ms if full.
                ms = self._last_ms
                self._sequence += 1
                if self._sequence > _MAX_SEQUENCE:
                    ms += 1
                    self._sequence = 0
            else:
                self._sequence = 0
            self._last_ms = ms
            return (ms << (NODE_BITS + SEQUENCE_BITS)) | (self._node << SEQUENCE_BITS) | self._sequence


def id_time(post_id: int) -> datetime:
    """When an id was made (to the millisecond)."""
    ms = (post_id >> (NODE_BITS + SEQUENCE_BITS)) + EPOCH_MS
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def parse_id(text: str) -> int | None:
    """A post id as it appears in URLs and JSON (a decimal string), or None if it cannot be one."""
    if not text.isascii() or not text.isdigit() or len(text) > 19:
        return None
    value = int(text)
    return value if 0 < value < (1 << 63) else None
