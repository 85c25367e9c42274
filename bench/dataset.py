"""The benchmark dataset of DESIGN.md, generated (seeded, so every run builds the same data) into a database.

    .venv/bin/python -m bench.dataset [--toy] [--backend sqlite|postgresql]   # build one, print timings, drop it

Full size: 10,000 users; 200 channels (a tenth private) plus the announcement channel of everyone; each user
follows 10 channels and 50 people, one of them the executive (``ceo``), who so has 9,999 followers (everyone
else); 1,000,000 posts over 90 days. Posting rates are skewed (a few channels and people write most), about
60 % of posts are in channels, a few are announcements by ``hr`` (the announcement channel's poster) and
the executive, some reply to the latest post of their channel, some carry a #tag or an @mention. Every
follower of a channel is its member; every user is a member and follower of the announcement channel.
``readers`` users get a bearer token (``reader_token``) for the load generator. Every user has an XMPP
address ``<username>@<xmpp_domain>``.

Rows go in with the raw drivers in bulk: stdlib ``sqlite3`` ``executemany`` in one transaction, asyncpg
``copy_records_to_table`` (foreign-key triggers off for the load: the generator writes consistent rows).
PostgreSQL is then ``VACUUM ANALYZE``d, as autovacuum would have done on a live system; SQLite is left
without statistics, as intrablog leaves it.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench._databases import Backend, empty_database
from bench._dataset_load import Table, load
from intrablog.domain.ids import EPOCH_MS, NODE_BITS, SEQUENCE_BITS
from intrablog.services.accounts import hash_token

EXECUTIVE = "ceo"
ANNOUNCER = "hr"
ANNOUNCEMENTS = "announcements"
END = datetime(2025, 6, 30, tzinfo=UTC)  # the newest post's day: fixed, so that the data is reproducible
SEED = 20250630
CHUNK = 50_000  # posts per bulk statement
_WORDS = (
    "release",
    "deploy",
    "review",
    "meeting",
    "roadmap",
    "budget",
    "customer",
    "incident",
    "fix",
    "update",
    "design",
    "test",
    "launch",
    "plan",
    "quarter",
    "team",
    "office",
    "travel",
    "hiring",
    "onboarding",
    "security",
    "audit",
    "report",
    "metrics",
    "dashboard",
    "database",
    "server",
    "network",
    "outage",
    "coffee",
    "lunch",
    "friday",
    "monday",
    "sprint",
    "demo",
    "feedback",
    "question",
    "answer",
    "thanks",
    "welcome",
    "docs",
    "policy",
    "training",
    "holiday",
    "benefit",
    "payroll",
    "contract",
    "partner",
    "market",
    "sales",
    "support",
    "ticket",
    "backlog",
)
_PLANNED: tuple[Table, ...] = ("users", "channels", "memberships", "channel_follows", "user_follows", "sessions")
_POSTS: tuple[Table, ...] = ("posts", "post_mentions", "post_tags")
_DEPARTMENTS = ("Engineering", "Sales", "HR", "Finance", "Support", "Marketing")


@dataclass(frozen=True)
class Size:
    users: int
    channels: int  # besides the announcement channel
    channels_followed: int
    people_followed: int  # the executive included
    posts: int
    days: int
    readers: int  # users with a bearer token

    @property
    def label(self) -> str:
        return f"{self.users:,} users, {self.channels:,} channels, {self.posts:,} posts over {self.days} days"


FULL = Size(
    users=10_000, channels=200, channels_followed=10, people_followed=50, posts=1_000_000, days=90, readers=2000
)
TOY = Size(users=300, channels=12, channels_followed=4, people_followed=10, posts=6_000, days=90, readers=50)


def reader_token(user_id: int) -> str:
    return f"bench-reader-token-{user_id}"


@dataclass(frozen=True)
class Reader:
    user_id: int
    username: str
    token: str


@dataclass(frozen=True)
class Dataset:
    """What the benchmarks need to know of the data they run on."""

    size: Size
    seed: int
    xmpp_domain: str
    readers: tuple[Reader, ...]
    digest: str  # sha256 of every generated row: equal seeds, equal data
    seconds: float = 0.0
    executive_id: int = 1
    announcer_id: int = 2
    executive: str = EXECUTIVE
    announcer: str = ANNOUNCER
    announcement_channel: str = ANNOUNCEMENTS

    @property
    def executive_followers(self) -> int:
        return self.size.users - 1


def username(user_id: int) -> str:
    return {1: EXECUTIVE, 2: ANNOUNCER}.get(user_id, f"user{user_id:05d}")


def channel_name(channel_id: int) -> str:
    return ANNOUNCEMENTS if channel_id == 1 else f"channel{channel_id - 1:03d}"


@dataclass
class _Plan:
    """Users, channels and follows, decided before the posts (which depend on who is in which channel)."""

    size: Size
    rng: random.Random
    xmpp_domain: str
    start: datetime
    tables: dict[str, list[tuple[object, ...]]] = field(default_factory=dict)
    members: dict[int, list[int]] = field(default_factory=dict)  # channel id -> member ids
    channel_weights: list[float] = field(default_factory=list)
    author_weights: list[float] = field(default_factory=list)


def _plan(size: Size, seed: int, xmpp_domain: str) -> _Plan:
    rng = random.Random(seed)
    start = END - timedelta(days=size.days)
    plan = _Plan(size, rng, xmpp_domain, start)
    joined = start - timedelta(days=30)
    user_ids = range(1, size.users + 1)
    plan.tables["users"] = [
        (
            uid,
            username(uid),
            username(uid).title(),
            f"{username(uid)}@example.com",
            f"{username(uid)}@{xmpp_domain}",
            True,
            False,
            joined,
            joined,
            True,
            _DEPARTMENTS[uid % len(_DEPARTMENTS)],
        )
        for uid in user_ids
    ]
    channel_ids = range(2, size.channels + 2)
    plan.tables["channels"] = [(1, ANNOUNCEMENTS, "Announcements", "For everyone", "announcement", "public", joined, 1)]
    plan.tables["channels"] += [
        (
            cid,
            channel_name(cid),
            channel_name(cid).title(),
            f"The {channel_name(cid)} channel",
            "team" if cid % 3 else "project",
            "private" if cid % 10 == 0 else "public",
            joined,
            None,
        )
        for cid in channel_ids
    ]
    follows: list[tuple[object, ...]] = []
    memberships: list[tuple[object, ...]] = []
    people: list[tuple[object, ...]] = []
    plan.members = {cid: [] for cid in [1, *channel_ids]}
    for uid in user_ids:
        chosen = sorted(rng.sample(channel_ids, size.channels_followed))
        for cid in [1, *chosen]:
            follows.append((uid, cid, joined, True))
            role = "poster" if cid == 1 and uid in (1, 2) else "member"
            memberships.append((cid, uid, role, joined, "manual"))
            plan.members[cid].append(uid)
        others = [other for other in rng.sample(user_ids, size.people_followed + 2) if other not in (uid, 1)]
        followed = ([1] if uid != 1 else []) + others[: size.people_followed - (uid != 1)]
        people += [(uid, other, joined, True) for other in sorted(followed)]
    plan.tables["channel_follows"] = follows
    plan.tables["memberships"] = memberships
    plan.tables["user_follows"] = people
    # Zipf-like rates: the busiest channel or person writes far more than the quietest.
    plan.channel_weights = [1.0 / (rank + 1) ** 0.8 for rank in range(size.channels)]
    rng.shuffle(plan.channel_weights)
    plan.author_weights = [1.0 / (rank + 1) ** 0.6 for rank in range(size.users)]
    rng.shuffle(plan.author_weights)
    # Tokens must be live whenever the benchmark runs: the only rows that depend on the clock.
    now = datetime.now(UTC)
    plan.tables["sessions"] = [
        (hash_token(reader_token(uid)), uid, now, now + timedelta(days=7), None) for uid in range(3, size.readers + 3)
    ]
    return plan


def _post_chunks(plan: _Plan) -> Iterator[dict[str, list[tuple[object, ...]]]]:
    """Posts in id order, CHUNK at a time, with their mentions and tags."""
    size, rng = plan.size, plan.rng
    span_ms = size.days * 86_400_000
    first_ms = int(plan.start.timestamp() * 1000) - EPOCH_MS
    offsets = sorted(rng.randrange(span_ms) for _ in range(size.posts))
    sentences = [" ".join(rng.choices(_WORDS, k=rng.randint(6, 24))).capitalize() for _ in range(4096)]
    channels = list(range(2, size.channels + 2))
    channel_picks = rng.choices(channels, weights=plan.channel_weights, k=size.posts)
    author_picks = rng.choices(range(1, size.users + 1), weights=plan.author_weights, k=size.posts)
    latest: dict[int, tuple[int, int]] = {}  # channel -> (newest post id, its thread root)
    announcement_every = max(size.posts // (size.days * 1), 1)  # about one a day
    previous_ms, sequence = -1, 0
    chunk: dict[str, list[tuple[object, ...]]] = {"posts": [], "post_mentions": [], "post_tags": []}
    for n, offset in enumerate(offsets):
        ms = first_ms + offset
        sequence = sequence + 1 if ms == previous_ms else 0
        previous_ms = ms
        post_id = (ms << (NODE_BITS + SEQUENCE_BITS)) | sequence
        created = datetime.fromtimestamp((ms + EPOCH_MS) / 1000, tz=UTC)
        text = f"{sentences[n % 4096]} ({n})"
        roll = rng.random()
        channel_id: int | None = None
        in_reply_to: int | None = None
        root = post_id
        if n % announcement_every == announcement_every // 2:
            author, channel_id = (1 if n % 3 == 0 else 2), 1
        elif roll < 0.6:
            channel_id = channel_picks[n]
            members = plan.members[channel_id]
            author = members[author_picks[n] % len(members)] if members else 1
            if channel_id in latest and roll < 0.09:
                in_reply_to, root = latest[channel_id]
        else:
            author = author_picks[n]
        if channel_id is not None:
            latest[channel_id] = (post_id, root)
        extra = rng.random()
        if extra > 0.9:
            tag = _WORDS[n % len(_WORDS)]
            text += f" #{tag}"
            chunk["post_tags"].append((post_id, tag, 0))
        elif extra > 0.85:
            mentioned = author_picks[(n + 1) % size.posts]
            text = f"@{username(mentioned)} {text}"
            chunk["post_mentions"].append((post_id, mentioned, 0))
        chunk["posts"].append((post_id, author, channel_id, text, in_reply_to, root, created, None, None, False, False))
        if len(chunk["posts"]) >= CHUNK:
            yield chunk
            chunk = {"posts": [], "post_mentions": [], "post_tags": []}
    if chunk["posts"]:
        yield chunk


def tables(
    size: Size, seed: int = SEED, xmpp_domain: str = "example.com"
) -> Iterator[tuple[Table, list[tuple[object, ...]]]]:
    """Every row of the dataset, table by table (posts in chunks), in an order foreign keys accept."""
    plan = _plan(size, seed, xmpp_domain)
    for name in _PLANNED:
        yield name, plan.tables[name]
    for chunk in _post_chunks(plan):
        for name in _POSTS:
            yield name, chunk[name]


def _hashed(
    batches: Iterator[tuple[Table, list[tuple[object, ...]]]], digest: Any
) -> Iterator[tuple[Table, list[tuple[object, ...]]]]:
    """The batches unchanged, every row but the sessions' (they carry the clock) fed to ``digest``."""
    for table, batch in batches:
        if table != "sessions":
            for row in batch:
                digest.update(repr(row).encode())
        yield table, batch


def digest_of(size: Size, seed: int = SEED, xmpp_domain: str = "example.com") -> str:
    """What ``generate`` would report as the digest, without a database."""
    digest = hashlib.sha256()
    for _ in _hashed(tables(size, seed, xmpp_domain), digest):
        pass
    return digest.hexdigest()


async def generate(url: str, size: Size, *, seed: int = SEED, xmpp_domain: str = "example.com") -> Dataset:
    """Fill the migrated, empty database at ``url``; what was built, and how long it took."""
    started = time.monotonic()
    digest = hashlib.sha256()
    await load(url, _hashed(tables(size, seed, xmpp_domain), digest))
    readers = tuple(Reader(uid, username(uid), reader_token(uid)) for uid in range(3, size.readers + 3))
    return Dataset(size, seed, xmpp_domain, readers, digest.hexdigest(), time.monotonic() - started)


async def _build_once(backend: Backend, size: Size) -> Dataset:
    with tempfile.TemporaryDirectory(prefix="intrablog-bench-") as folder:
        async with empty_database(backend, Path(folder), "dataset") as url:
            return await generate(url, size)


def cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dataset", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--toy", action="store_true", help=f"{TOY.label}")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args(argv)
    size = TOY if args.toy else FULL
    backend: Backend = "postgresql" if args.backend == "postgresql" else "sqlite"
    dataset = asyncio.run(_build_once(backend, size))
    print(f"{args.backend}: {size.label} built in {dataset.seconds:.1f} s (digest {dataset.digest[:16]})")
    return 0


if __name__ == "__main__":
    sys.exit(cli())
