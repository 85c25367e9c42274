"""Domain events as NOTIFY payloads: every event type survives the trip, compactly, and what cannot travel
says so instead of being cut."""

from __future__ import annotations

import json
from typing import get_args

import pytest

from intrablog.domain.events import AckReminderDue, DomainEvent, PostCreated, SignedIn
from intrablog.services.announcements import REMINDER_EVENT_SLICE
from intrablog.storage.event_codec import (
    MAX_PAYLOAD_BYTES,
    UndecodableEvent,
    decode_event,
    dumps,
    fits,
    reference_of,
    to_json,
)
from tests.support.event_samples import ONE_OF_EACH, a_post


def test_every_event_type_is_covered_here() -> None:
    assert {type(event) for event in ONE_OF_EACH} == set(get_args(DomainEvent))


@pytest.mark.parametrize("event", ONE_OF_EACH, ids=lambda event: type(event).__name__)
def test_each_event_comes_back_equal_through_json(event: DomainEvent) -> None:
    payload = dumps({"t": type(event).__name__, "e": to_json(event)})
    assert fits(payload)
    envelope = json.loads(payload)

    decoded = decode_event(envelope["t"], envelope["e"])

    assert decoded == event
    assert type(decoded) is type(event)


def test_a_post_is_a_compact_payload() -> None:
    payload = dumps({"n": "web1-1234-abcd", "s": 1, "t": "PostCreated", "e": to_json(PostCreated(a_post()))})
    assert len(payload.encode()) < 700
    assert '": ' not in payload  # no whitespace after separators
    assert '", "' not in payload


def test_a_post_too_long_for_notify_is_sent_by_reference() -> None:
    # Non-ASCII counts in bytes: 3,000 characters of three bytes each are 9,000 bytes.
    event = PostCreated(a_post("€" * 3000))
    payload = dumps({"t": "PostCreated", "e": to_json(event)})
    assert len(payload) < MAX_PAYLOAD_BYTES < len(payload.encode())
    assert not fits(payload)
    assert reference_of(event) == event.post.id
    assert reference_of(SignedIn(3)) is None


@pytest.mark.parametrize(
    ("kind", "data", "complaint"),
    [
        ("PostWritten", {}, "unknown event type 'PostWritten'"),
        ("SignedIn", {"user_id": "seven"}, "bad SignedIn payload"),
        ("SignedIn", {"user_id": True}, "bad SignedIn payload"),
        ("SignedIn", {}, "bad SignedIn payload"),
        ("MembershipChanged", {"channel_id": 1, "user_id": 2, "role": "owner"}, "bad MembershipChanged payload"),
        ("PostCreated", {"post": [1, 2]}, "bad PostCreated payload"),
    ],
)
def test_a_payload_that_is_not_an_event_is_refused(kind: str, data: object, complaint: str) -> None:
    with pytest.raises(UndecodableEvent, match=complaint):
        decode_event(kind, data)


def test_a_reminder_slice_of_the_largest_user_ids_still_fits_one_payload() -> None:
    # The service publishes a reminder round in slices of REMINDER_EVENT_SLICE people; a slice must travel.
    ids = tuple(range(2**31 - REMINDER_EVENT_SLICE, 2**31))
    event = AckReminderDue(post_id=2**62 + 5, user_ids=ids)
    assert fits(dumps({"t": "AckReminderDue", "e": to_json(event)}))
    one_more = AckReminderDue(post_id=2**62 + 5, user_ids=(*ids, *ids))
    assert not fits(dumps({"t": "AckReminderDue", "e": to_json(one_more)}))
