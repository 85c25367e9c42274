"""When people come back: held posts become one summary line, and messages that were lost are resent.

- Presence (issue 4, item 8): whoever becomes available or chatty again gets what away/xa/dnd held back
  as ONE line from the bot (count and link), never the posts themselves.
- Receipts (DESIGN.md, "Delivery guarantee"): a server that crashes after confirming a batch, or closes a
  client's stream with messages still queued for it, loses them silently. Someone whose client has been
  seen acknowledging receipts (XEP-0184) and who comes back online (or is still online when our stream
  comes back) gets, after a grace period (their offline messages and the receipts for them arrive first),
  every message sent to them before they went (before our stream came back) that still lacks a receipt,
  again, with the same origin-id.
- Only what was sent since the worker started is checked. Receipts come back over our component stream,
  and whatever comes while no worker is listening is lost: a receipt on its way when intrablog stopped or
  died (a SIGKILL, a failover to another node), one sent while nothing was connected, one gathered and not
  yet recorded. The messages themselves went out and were confirmed, so resending them would only repeat
  them (DESIGN.md: a crash of intrablog repeats at most the one unconfirmed batch). What is given up is the
  repair of a double fault: the XMPP server lost messages, and intrablog restarted before their recipient
  came back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bridges.xmpp.bridge import XmppBridge
from bridges.xmpp.outbound_messages import held_summary
from bridges.xmpp.outbound_tasks import TaskGroup
from intrablog.domain.im import Presence, bare_jid
from intrablog.services.facade import Services

log = logging.getLogger(__name__)

_AVAILABLE = (Presence.AVAILABLE, Presence.CHAT)
# A message confirmed just as its recipient's stream closed is recorded as sent a moment after we saw them
# go: anything up to this long after counts as "before". (Messages that really went out after that time
# sit in offline storage and are acknowledged at login, within the grace period.)
_OFFLINE_SLACK = timedelta(seconds=2)
RECEIPTS_PER_TRANSACTION = 1000
RECEIPTS_GATHER_SECONDS = 0.25


class Returns:
    def __init__(
        self,
        bridge: XmppBridge,
        services: Services,
        tasks: TaskGroup,
        writes: asyncio.Lock,
        wake: Callable[[], None],
        grace_seconds: float,
    ) -> None:
        self._bridge = bridge
        self._delivery = services.delivery
        self._im = services.im
        self._tasks = tasks
        self._writes = writes  # shared with the drain loop: one database writer at a time
        self._wake = wake
        self._grace_seconds = grace_seconds
        self._receipts: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._receipt_senders: set[str] = set()
        # Who may have lost messages, and the cut-off: what was sent to them before it and still has no
        # receipt is suspect. Set when they go offline, and for everyone when our stream comes back.
        self._suspects: dict[str, datetime] = {}
        self._checks: dict[str, asyncio.Task[None]] = {}  # one person back online
        self._sweep: asyncio.Task[None] | None = None  # everyone, after our stream came back
        self._releases: set[str] = set()
        self._had_session = False
        self._since = datetime.now(UTC)  # the receipt checks cover what was sent since the worker started
        self.running = False  # listeners cannot be removed from the bridge: they go quiet instead
        # Counters for the log, the tests and the benchmark.
        self.summaries = 0
        self.checks = 0  # receipt checks run (someone came back, or our stream did)
        self.requeued = 0
        self.receipts = 0

    def start(self, *, already_connected: bool) -> None:
        # Started on a live stream: the next session start is a reconnect, not the first one.
        self._had_session = self._had_session or already_connected
        self._since = datetime.now(UTC)  # what was sent before may lack receipts nobody was here to take
        self.running = True
        self._tasks.start(self._record_receipts(), "receipts")

    # -- bridge listeners (plain callbacks: they only note things and schedule work) -----------------------
    def on_session_start(self) -> None:
        """A new stream. After a reconnect, whatever the server held for people may be gone with it (a
        crash), and receipts sent meanwhile could not reach us: everyone is suspect up to now."""
        if not self.running:
            return
        if not self._had_session:
            self._had_session = True
            return
        cut_off = datetime.now(UTC)  # nothing was sent while disconnected: "before now" is "before the loss"
        for jid in self._receipt_senders:
            self._suspect(jid, cut_off)
        if self._sweep is not None:
            self._sweep.cancel()
        # One task for everyone (there may be thousands), not one each.
        self._sweep = self._tasks.start(self._sweep_after_grace(), "receipt-sweep")

    def on_receipt(self, jid: str, origin_id: str) -> None:
        if not self.running:
            return
        bare = bare_jid(jid)
        self._receipt_senders.add(bare)
        self._receipts.put_nowait((bare, origin_id))

    def on_presence(self, jid: str, before: Presence, after: Presence) -> None:
        if not self.running:
            return
        bare = bare_jid(jid)
        if after is Presence.UNAVAILABLE:
            self._suspect(bare, datetime.now(UTC) + _OFFLINE_SLACK)
            check = self._checks.pop(bare, None)
            if check is not None:
                check.cancel()  # gone again before the grace period ended: check at the next return
            return
        if after in _AVAILABLE and before not in _AVAILABLE:
            self._releases.add(bare)
            self._wake()
        if before is Presence.UNAVAILABLE and bare in self._suspects:
            self._schedule_check(bare)

    def _suspect(self, jid: str, cut_off: datetime) -> None:
        self._suspects[jid] = max(cut_off, self._suspects.get(jid, cut_off))

    def _schedule_check(self, jid: str) -> None:
        previous = self._checks.pop(jid, None)
        if previous is not None:
            previous.cancel()
        self._checks[jid] = self._tasks.start(self._check_after_grace(jid), f"receipt-check:{jid}")

    # -- work done in the drain loop, between batches ---------------------------------------------------------
    @property
    def releasing(self) -> bool:
        """Someone came back and their held posts wait to be summarised (``flush``)."""
        return bool(self._releases)

    async def flush(self) -> None:
        """Send the summaries of held posts for those who came back. The worker's loop calls this between
        batches, so a release never races the hold decisions of a batch."""
        while self._releases and self._bridge.connected:
            jid = self._releases.pop()
            user = await self._im.user_for_jid(jid)
            if user is None:
                continue
            async with self._writes:
                summary = await self._delivery.release_held(user.id)
            if summary is None or summary.count == 0:
                continue
            self._bridge.send_message(
                jid,
                self._bridge.bot_jid,
                held_summary(summary.count, summary.url),
                f"held-{user.id}-{time.time_ns()}",
                request_receipt=False,
            )
            self.summaries += 1

    # -- background work ---------------------------------------------------------------------------------------
    async def settle(self, seconds: float) -> None:
        """Wait (bounded) until the receipts received so far are recorded: at stop, before cancelling."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._receipts.join(), seconds)

    async def _record_receipts(self) -> None:
        # Receipts come back as fast as messages go out: whatever has queued up is recorded in one
        # transaction, never one transaction per receipt.
        while True:
            batch = [await self._receipts.get()]
            # Let more gather: a few hundred receipts cost one statement per person, each alone a transaction.
            await asyncio.sleep(RECEIPTS_GATHER_SECONDS)
            while len(batch) < RECEIPTS_PER_TRANSACTION and not self._receipts.empty():
                batch.append(self._receipts.get_nowait())
            try:
                async with self._writes:
                    self.receipts += await self._delivery.record_receipts(batch)
            except Exception:
                # Not retried: a receipt lost here at worst makes its message be sent once more later.
                log.exception("could not record %d receipts", len(batch))
            finally:
                for _ in batch:
                    self._receipts.task_done()

    async def _sweep_after_grace(self) -> None:
        await asyncio.sleep(self._grace_seconds)
        for jid in list(self._suspects):
            if jid in self._checks:
                continue  # came back meanwhile: their own check is on its way
            try:
                await self._check(jid)
            except Exception:
                log.exception("could not check what %s acknowledged", jid)

    async def _check_after_grace(self, jid: str) -> None:
        try:
            # Offline messages are delivered at login and acknowledged; wait for those receipts first.
            await asyncio.sleep(self._grace_seconds)
            await self._check(jid)
        finally:
            with contextlib.suppress(KeyError):
                if self._checks[jid] is asyncio.current_task():
                    del self._checks[jid]

    async def _check(self, jid: str) -> None:
        """Requeue what was sent to ``jid`` since the worker started, before their cut-off, and never
        acknowledged."""
        if self._bridge.presence.get(jid) is Presence.UNAVAILABLE:
            return  # still suspect: checked when they come back
        cut_off = self._suspects.pop(jid, None)
        if cut_off is None or jid not in self._receipt_senders:
            return  # a client that never acknowledges tells us nothing
        await self._receipts.join()  # receipts that came during the grace period count
        user = await self._im.user_for_jid(jid)
        if user is None:
            return
        self.checks += 1
        lost = await self._delivery.unreceipted(user.id, cut_off, sent_since=self._since)
        if lost:
            async with self._writes:
                await self._delivery.requeue([delivery.id for delivery in lost])
            self.requeued += len(lost)
            log.warning("%d messages to %s were never acknowledged; sending them again", len(lost), jid)
            self._wake()
