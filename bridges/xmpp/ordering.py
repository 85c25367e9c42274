"""Each person's stanzas are handled one at a time, in the order they arrived.

slixmpp runs every coroutine handler as a task of its own, so two stanzas from one person would otherwise
be handled concurrently: two lines typed in a row could become posts in the wrong order, and a roster
``unsubscribe`` could be overtaken by the ``subscribe`` before it (IM left on). Handlers take the sender's
lock before their first ``await``; tasks start in arrival order and asyncio.Lock serves waiters first come,
first served, so arrival order is kept.
"""

from __future__ import annotations

import asyncio
import weakref

from intrablog.domain.im import bare_jid


class PerSender:
    def __init__(self) -> None:
        # Weak values: a lock lives only while a handler holds or awaits it, so idle senders cost nothing.
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def lock(self, sender: str) -> asyncio.Lock:
        key = bare_jid(sender)
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock
