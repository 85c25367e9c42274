"""Ports: what the services need from the outside world. Adapters (storage/, directory/) implement them."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, Self

from intrablog.domain.acknowledgement_ports import AcknowledgementRepository
from intrablog.domain.bindings import BindingChanges, CurrentMembership, GroupBinding
from intrablog.domain.directory import DirectorySnapshot
from intrablog.domain.directory_sync_ports import DirectorySyncRepository
from intrablog.domain.events import DomainEvent
from intrablog.domain.exclusive_ports import ExclusiveSections
from intrablog.domain.im import (
    Delivery,
    DirectMessage,
    ImStats,
    ImSubscription,
    NewDirectMessage,
    OutboxItem,
    PostAudience,
    TrackedWord,
)
from intrablog.domain.model import (
    AuditEntry,
    AuthorView,
    Channel,
    ChannelKind,
    DirectoryPerson,
    Membership,
    MemberView,
    NewPost,
    PageRequest,
    Post,
    Role,
    Session,
    User,
    Visibility,
)


class Clock(Protocol):
    def now(self) -> datetime: ...


class Directory(Protocol):
    async def authenticate(self, username: str, password: str) -> DirectoryPerson | None:
        """The person if the password is right; None for a wrong password or unknown user (same answer).

        Raises Unavailable when the directory cannot be reached or does not answer in time.
        """
        ...

    async def ping(self) -> None:
        """Raise Unavailable unless the directory answers."""
        ...

    async def list_people(self, page_size: int | None = None) -> DirectorySnapshot:
        """Every person and group, complete: paged searches of ``page_size`` entries (None: the configured
        size, 0: one unpaged search).

        Raises Unavailable when the directory cannot be asked, and Incomplete when it answers only part
        (size or admin limit, referral, paging error): never a partial snapshot.
        """
        ...


class UserRepository(Protocol):
    async def get(self, user_id: int) -> User | None: ...

    async def by_username(self, username: str) -> User | None: ...

    async def by_usernames(self, usernames: Iterable[str]) -> list[User]: ...

    async def by_xmpp_address(self, address: str) -> User | None:
        """The user with this bare JID (compared case-insensitively); an active one before an inactive one.

        Addresses are not unique (the directory may hand one on before the old holder is refreshed).
        """
        ...

    async def upsert_from_directory(self, person: DirectoryPerson, is_site_admin: bool, now: datetime) -> User:
        """Create or refresh the mirror of a directory entry; marks it active and seen now."""
        ...

    async def follower_count(self, user_id: int) -> int: ...

    async def following_count(self, user_id: int) -> int: ...


class ChannelRepository(Protocol):
    async def get(self, channel_id: int) -> Channel | None: ...

    async def by_name(self, name: str) -> Channel | None: ...

    async def by_name_with_membership(self, name: str, user_id: int) -> tuple[Channel, Membership | None] | None:
        """The channel and the person's membership of it (None if not a member); None if no such channel."""
        ...

    async def add(
        self,
        name: str,
        title: str,
        description: str,
        kind: ChannelKind,
        visibility: Visibility,
        created_by: int | None,
        now: datetime,
    ) -> Channel:
        """Raises Conflict when the name is taken."""
        ...

    async def visible_to(self, viewer: User) -> list[Channel]:
        """Public channels plus the private ones the viewer belongs to (all for site admins), by name."""
        ...

    async def membership(self, channel_id: int, user_id: int) -> Membership | None: ...

    async def set_membership(self, channel_id: int, user_id: int, role: Role, now: datetime) -> Membership: ...

    async def remove_membership(self, channel_id: int, user_id: int) -> bool: ...

    async def members(self, channel_id: int) -> list[MemberView]: ...

    async def member_count(self, channel_id: int) -> int: ...


class FollowRepository(Protocol):
    async def follow_channel(self, follower_id: int, channel_id: int, now: datetime) -> bool:
        """True when the follow is new."""
        ...

    async def unfollow_channel(self, follower_id: int, channel_id: int) -> bool: ...

    async def follow_user(self, follower_id: int, user_id: int, now: datetime) -> bool: ...

    async def unfollow_user(self, follower_id: int, user_id: int) -> bool: ...

    async def follows_channel(self, follower_id: int, channel_id: int) -> bool: ...

    async def follows_user(self, follower_id: int, user_id: int) -> bool: ...


class PostRepository(Protocol):
    """Every listing applies the viewer's read rights in the query itself (see storage's visibility)."""

    async def add(self, post: NewPost) -> Post: ...

    async def get(self, post_id: int) -> Post | None:
        """The post, deleted or not."""
        ...

    async def get_many(self, post_ids: Sequence[int]) -> list[Post]:
        """The posts that exist among ``post_ids``, deleted or not, in id order; a fixed number of queries."""
        ...

    async def mark_deleted(self, post_id: int, now: datetime) -> None: ...

    async def home(self, viewer: User, page: PageRequest) -> list[Post]: ...

    async def in_channel(self, channel_id: int, page: PageRequest) -> list[Post]: ...

    async def by_author(self, author_id: int, viewer: User, page: PageRequest) -> list[Post]: ...

    async def mentioning(self, viewer: User, page: PageRequest) -> list[Post]: ...

    async def thread(self, root_id: int, viewer: User) -> list[Post]:
        """The root and its replies that the viewer may read, oldest first; deleted ones left out."""
        ...


class SessionRepository(Protocol):
    async def add(self, token_hash: str, user_id: int, created_at: datetime, expires_at: datetime) -> None: ...

    async def get(self, token_hash: str, now: datetime) -> Session | None:
        """The live session for this hash (not expired, not revoked), or None."""
        ...

    async def revoke(self, token_hash: str, now: datetime) -> bool: ...

    async def revoke_all_of(self, user_ids: Sequence[int], now: datetime) -> int:
        """Revoke every live session of these people; returns how many."""
        ...


class BindingRepository(Protocol):
    """Channels bound to directory groups (groups named by lower-cased name or DN) and group memberships."""

    async def bind(self, channel_id: int, group: str, role: Role, now: datetime) -> None:
        """Bind, or change the role of an existing binding."""
        ...

    async def unbind(self, channel_id: int, group: str) -> bool: ...

    async def stored(self) -> list[GroupBinding]:
        """The bindings made through the API (those of the config file are not stored)."""
        ...

    async def members_of(self, groups: Collection[str], only_user: int | None = None) -> dict[str, set[int]]:
        """Active members of each named group, as the last sync stored them."""
        ...

    async def username_in_groups(self, username: str, groups: Collection[str]) -> bool: ...

    async def announcement_channels(self) -> list[int]: ...

    async def channels_with_group_memberships(self) -> set[int]: ...

    async def memberships(self, channel_id: int, only_user: int | None = None) -> dict[int, CurrentMembership]: ...

    async def apply(self, channel_id: int, changes: BindingChanges, now: datetime) -> None:
        """Add group memberships with a follow, change roles, remove memberships with their follow."""
        ...

    async def everyone_joins(self, channel_id: int, now: datetime, only_user: int | None = None) -> list[int]:
        """Every active user (or only this one) becomes a member and follower; returns the ids of those added."""
        ...


class OutboxRepository(Protocol):
    """What the bridge must deliver: one row per post or direct message, never one per recipient."""

    async def add_post(self, post_id: int, now: datetime) -> None: ...

    async def add_direct_message(self, message_id: int, now: datetime) -> None: ...

    async def claim(self, limit: int) -> list[OutboxItem]:
        """Unprocessed rows in id order; on PostgreSQL locked for this transaction, skipping rows another
        expander holds."""
        ...

    async def mark_processed(self, ids: Sequence[int], now: datetime) -> None: ...

    async def unprocessed_count(self) -> int: ...


class DeliveryRepository(Protocol):
    """One row per (recipient, item) on IM; the unique (recipient, origin-id) key makes every add idempotent."""

    async def add_for_post(self, audience: PostAudience, now: datetime) -> int:
        """Queue the post for its audience (set-based); returns the number of new deliveries."""
        ...

    async def add_for_message(self, message: DirectMessage, origin_id: str, now: datetime) -> int:
        """Queue a direct message for its recipient if they can receive IM (active, address, IM on)."""
        ...

    async def pending(self, limit: int, after: int = 0) -> list[Delivery]:
        """PENDING deliveries in id order (ids above ``after``), with their post or direct message and the
        recipient's address.

        Those that can no longer be delivered (see DeliveryState.DROPPED) are marked DROPPED and left out.
        """
        ...

    async def mark_sent(self, ids: Sequence[int], now: datetime) -> None: ...

    async def mark_held(self, ids: Sequence[int]) -> None: ...

    async def requeue(self, ids: Sequence[int]) -> None: ...

    async def summarise_held(self, recipient_id: int) -> int:
        """Every HELD delivery of this person becomes SUMMARISED; returns how many."""
        ...

    async def record_receipt(self, recipient_id: int, origin_id: str, now: datetime) -> bool: ...

    async def record_receipts(self, recipient_id: int, origin_ids: Sequence[str], now: datetime) -> int:
        """One person's receipts for many messages at once; returns how many matched a delivery."""
        ...

    async def unreceipted(
        self, recipient_id: int, sent_before: datetime, sent_since: datetime | None = None
    ) -> list[Delivery]:
        """SENT in ``[sent_since, sent_before)`` and never receipted, in id order."""
        ...

    async def pending_count(self) -> int: ...


class DirectMessageRepository(Protocol):
    async def add(self, message: NewDirectMessage) -> DirectMessage: ...

    async def get_many(self, message_ids: Sequence[int]) -> list[DirectMessage]: ...

    async def conversation(self, user_id: int, other_id: int, page: PageRequest) -> list[DirectMessage]:
        """Messages between the two, either way, newest first."""
        ...

    async def latest_per_counterpart(self, user_id: int) -> list[tuple[AuthorView, DirectMessage]]:
        """Each person ``user_id`` exchanged messages with, with the latest message; newest first."""
        ...


class ImRepository(Protocol):
    """A person's IM settings and their IM-only lists: favourites and tracked words."""

    async def im_enabled(self, user_id: int) -> bool: ...

    async def set_im_enabled(self, user_id: int, on: bool) -> None: ...

    async def set_channel_delivery(self, follower_id: int, channel_id: int, on: bool) -> bool:
        """False when the person does not follow the channel (nothing changed)."""
        ...

    async def set_person_delivery(self, follower_id: int, user_id: int, on: bool) -> bool: ...

    async def subscriptions(self, user_id: int) -> list[ImSubscription]:
        """Followed channels by name, then followed people by username."""
        ...

    async def add_favourite(self, user_id: int, post_id: int, now: datetime) -> bool: ...

    async def add_track(self, user_id: int, word: str, now: datetime) -> bool: ...

    async def remove_track(self, user_id: int, word: str) -> bool: ...

    async def tracks(self, user_id: int) -> list[TrackedWord]:
        """By word."""
        ...

    async def stats(self, user_id: int) -> ImStats: ...


class AuditRepository(Protocol):
    """The audit log: entries are written in the transaction of the change they record, read newest first."""

    async def add(
        self, at: datetime, actor: User | None, action: str, subject: str, details: Mapping[str, Any]
    ) -> None: ...

    async def page(self, page: PageRequest, action: str | None = None) -> list[AuditEntry]:
        """Newest first, ids below ``page.before``; ``action`` matches exactly, or as a prefix when it ends
        with "." ("membership." is every membership.* entry)."""
        ...

    async def usernames(self, user_ids: Collection[int]) -> dict[int, str]:
        """Usernames by id, to name the people an entry is about (a fixed number of queries)."""
        ...


class UnitOfWork(Protocol):
    """One transaction. Leaving the block without commit() rolls back."""

    users: UserRepository
    channels: ChannelRepository
    follows: FollowRepository
    posts: PostRepository
    sessions: SessionRepository
    outbox: OutboxRepository
    deliveries: DeliveryRepository
    messages: DirectMessageRepository
    im: ImRepository
    directory_sync: DirectorySyncRepository
    bindings: BindingRepository
    acknowledgements: AcknowledgementRepository
    audit: AuditRepository

    async def commit(self) -> None: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class Database(ExclusiveSections, Protocol):
    def unit_of_work(self) -> UnitOfWork: ...

    def reading(self) -> UnitOfWork:
        """A unit of work that only reads: no transaction is opened or rolled back; commit() is an error.

        Each statement sees the data committed when it starts (what PostgreSQL's READ COMMITTED gives a
        transaction's statements anyway); for the hot single-purpose reads (sign-in check, timelines).
        """
        ...

    async def ping(self) -> None:
        """Raise Unavailable unless the database answers."""
        ...


class EventPublisher(Protocol):
    async def publish(self, event: DomainEvent) -> None: ...
