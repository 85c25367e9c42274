"""Pure rules of announcements that ask for acknowledgement: where the flags may go, who sees the report, how
it groups people, when the reminder is due, how IM treats reminders and urgent ones, and the CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from intrablog.domain import rules
from intrablog.domain.announcements import (
    NO_DEPARTMENT,
    by_department,
    check_announcement_flags,
    check_door,
    order_pending,
    reminder_cutoff,
)
from intrablog.domain.im import (
    REASONS_STRONGEST_FIRST,
    Decision,
    DeliveryReason,
    Presence,
    decide,
    origin_id_for_post,
    origin_id_for_reminder,
    post_audience,
)
from intrablog.domain.model import (
    Acknowledgement,
    AckReport,
    AuthorView,
    Channel,
    ChannelKind,
    Membership,
    PendingAcknowledgement,
    Post,
    Role,
    User,
    Visibility,
)
from intrablog.errors import Invalid
from intrablog.web.ack_csv import CSV_HEADER, report_csv, report_filename, safe_cell

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
ANNOUNCEMENTS = Channel(1, "announcements", "Announcements", "", ChannelKind.ANNOUNCEMENT, Visibility.PUBLIC, NOW, None)
ENGINEERING = Channel(2, "engineering", "Engineering", "", ChannelKind.TEAM, Visibility.PUBLIC, NOW, None)


def _user(user_id: int, *, active: bool = True, site_admin: bool = False) -> User:
    return User(user_id, f"user{user_id}", f"User {user_id}", None, None, active, site_admin, NOW, NOW)


def _post(channel: Channel | None, *, author_id: int = 1, urgent: bool = False) -> Post:
    return Post(
        id=99,
        author_id=author_id,
        author=AuthorView("carol", "Carol Carter"),
        channel_id=channel.id if channel else None,
        channel_name=channel.name if channel else None,
        text="Office closed on Monday",
        in_reply_to=None,
        thread_root=99,
        created_at=NOW,
        edited_at=None,
        deleted_at=None,
        requires_ack=channel is not None and channel.is_announcement,
        urgent=urgent,
    )


def _fields(raised: pytest.ExceptionInfo[Invalid]) -> list[str]:
    return [error.field for error in raised.value.errors]


# -- where the flags may go ---------------------------------------------------------------------------------


def test_flags_are_for_new_posts_in_announcement_channels() -> None:
    for requires_ack, urgent in ((True, False), (False, True), (True, True)):
        check_announcement_flags(requires_ack, urgent, ANNOUNCEMENTS, is_reply=False)
    # Without flags any post is fine anywhere.
    for channel in (ANNOUNCEMENTS, ENGINEERING, None):
        check_announcement_flags(False, False, channel, is_reply=channel is ENGINEERING)


@pytest.mark.parametrize(
    ("channel", "is_reply", "says"),
    [
        (ENGINEERING, False, "a post in 'engineering' cannot"),
        (None, False, "a personal update cannot"),
        (ANNOUNCEMENTS, True, "a reply cannot"),
    ],
)
def test_flags_elsewhere_name_each_field_set(channel: Channel | None, is_reply: bool, says: str) -> None:
    with pytest.raises(Invalid) as both:
        check_announcement_flags(True, True, channel, is_reply=is_reply)
    assert _fields(both) == ["requires_ack", "urgent"]
    assert all(says in error.reason and "only announcements" in error.reason for error in both.value.errors)
    with pytest.raises(Invalid) as one:
        check_announcement_flags(False, True, channel, is_reply=is_reply)
    assert _fields(one) == ["urgent"]


def test_acknowledgement_doors() -> None:
    check_door("web")
    check_door("im")
    with pytest.raises(Invalid) as raised:
        check_door("email")
    assert _fields(raised) == ["via"]


# -- who sees the report ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "role", "sees"),
    [
        ("author", None, True),
        ("site admin", None, True),
        ("channel admin", Role.ADMIN, True),
        ("poster", Role.POSTER, True),
        ("member", Role.MEMBER, False),
        ("no membership", None, False),
    ],
)
def test_who_sees_the_acknowledgement_report(who: str, role: Role | None, sees: bool) -> None:
    post = _post(ANNOUNCEMENTS, author_id=1)
    user = _user(1 if who == "author" else 2, site_admin=who == "site admin")
    membership = Membership(ANNOUNCEMENTS.id, user.id, role, NOW) if role is not None else None
    assert rules.can_see_ack_report(user, post, membership) is sees


def test_deactivated_people_see_no_report_not_even_their_own() -> None:
    post = _post(ANNOUNCEMENTS, author_id=1)
    admin_membership = Membership(ANNOUNCEMENTS.id, 1, Role.ADMIN, NOW)
    assert not rules.can_see_ack_report(_user(1, active=False, site_admin=True), post, admin_membership)


# -- how the report groups people ---------------------------------------------------------------------------


def _ack(username: str, department: str | None) -> Acknowledgement:
    return Acknowledgement(99, username, username.title(), department, NOW, "web")


def _pending(username: str, department: str | None) -> PendingAcknowledgement:
    return PendingAcknowledgement(username, username.title(), department)


def test_departments_alphabetically_case_insensitive_with_none_last() -> None:
    acknowledged = [_ack("bob", "engineering"), _ack("alice", "Engineering"), _ack("zed", None)]
    pending = [_pending("dave", "Sales"), _pending("erin", ""), _pending("carl", "HR"), _pending("amy", "Sales")]
    assert by_department(acknowledged, pending) == [
        # Spelled differently in the directory, so two departments; side by side, capital first.
        ("Engineering", 1, 0),
        ("engineering", 1, 0),
        ("HR", 0, 1),
        ("Sales", 0, 2),
        (NO_DEPARTMENT, 1, 1),  # no attribute and a blank one are the same: no department
    ]
    assert [person.username for person in order_pending(pending)] == ["carl", "amy", "dave", "erin"]


def test_nobody_asked_groups_into_nothing() -> None:
    assert by_department([], []) == []


# -- when the reminder is due -------------------------------------------------------------------------------


def test_reminder_cutoff() -> None:
    assert reminder_cutoff(NOW, 240) == NOW - timedelta(hours=4)
    assert reminder_cutoff(NOW, 0.5) == NOW - timedelta(seconds=30)
    assert reminder_cutoff(NOW, 0) is None  # 0 = never remind


# -- IM: reminders and urgent announcements -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("presence", "reminder", "urgent", "announcement"),
    [
        (Presence.AVAILABLE, Decision.SEND, Decision.SEND, Decision.SEND),
        (Presence.AWAY, Decision.SEND, Decision.SEND, Decision.SEND),
        (Presence.XA, Decision.SEND, Decision.SEND, Decision.SEND),
        (Presence.DND, Decision.HOLD, Decision.SEND, Decision.HOLD),
        (Presence.UNAVAILABLE, Decision.SEND, Decision.SEND, Decision.SEND),
    ],
)
def test_reminders_get_through_like_announcements_and_urgent_ones_through_dnd(
    presence: Presence, reminder: Decision, urgent: Decision, announcement: Decision
) -> None:
    assert decide(presence, DeliveryReason.REMINDER) is reminder
    assert decide(presence, DeliveryReason.URGENT) is urgent
    assert decide(presence, DeliveryReason.ANNOUNCEMENT) is announcement


def test_a_reminder_ranks_just_below_the_announcement_and_has_its_own_origin_id() -> None:
    order = list(REASONS_STRONGEST_FIRST)
    assert order.index(DeliveryReason.REMINDER) == order.index(DeliveryReason.ANNOUNCEMENT) + 1
    assert origin_id_for_reminder(99) == "reminder-99" != origin_id_for_post(99)


def test_only_an_urgent_post_of_an_announcement_channel_is_urgent_on_im() -> None:
    assert post_audience(_post(ANNOUNCEMENTS, urgent=True), ANNOUNCEMENTS).urgent
    assert not post_audience(_post(ANNOUNCEMENTS, urgent=False), ANNOUNCEMENTS).urgent
    # Storage refuses such a post; were one stored anyway, IM would not treat it as urgent.
    assert not post_audience(_post(ENGINEERING, urgent=True), ENGINEERING).urgent


# -- the CSV ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\t=x", "\r=x"])
def test_cells_a_spreadsheet_would_run_start_with_an_apostrophe(value: str) -> None:
    assert safe_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["Sales", "", "R&D", "a=b", "O'Brien", "1-2"])
def test_ordinary_cells_are_unchanged(value: str) -> None:
    assert safe_cell(value) == value


def test_report_csv_lists_acknowledged_then_pending_and_reads_back() -> None:
    report = AckReport(
        post=_post(ANNOUNCEMENTS),
        acknowledged=[
            Acknowledgement(99, "bob", 'Bob, "the" Baker', "Engineering", NOW, "im"),
            Acknowledgement(99, "mallory", '=HYPERLINK("http://evil")', None, NOW + timedelta(minutes=5), "web"),
        ],
        pending=[PendingAcknowledgement("dave", "Dave Dawson", "Sales")],
        by_department=[],
    )
    text = report_csv(report)
    assert text.startswith("username,display_name,department,status,acknowledged_at\r\n")
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == CSV_HEADER
    assert rows[1:] == [
        ["bob", 'Bob, "the" Baker', "Engineering", "acknowledged", "2026-03-02T09:30:00+00:00"],
        ["mallory", '\'=HYPERLINK("http://evil")', "", "acknowledged", "2026-03-02T09:35:00+00:00"],
        ["dave", "Dave Dawson", "Sales", "pending", ""],
    ]
    assert report_filename(99) == "acknowledgements-99.csv"
