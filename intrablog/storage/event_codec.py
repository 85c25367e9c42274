"""Domain events as compact JSON, for PostgreSQL NOTIFY payloads (which must stay under 8000 bytes).

Every event of ``DomainEvent`` is a frozen dataclass of plain fields (ints, strings, datetimes, enums,
tuples, nested dataclasses), so one generic codec driven by the type hints covers them all, including
events added later. An event whose JSON does not fit is sent as a *reference* (its post, message or
channel id) and the receiving node reads the object back from storage; an event without a reference that
does not fit cannot be sent at all, and the sender tells the other nodes to catch up from storage instead.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import types
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Union, cast, get_args, get_origin, get_type_hints

from intrablog.domain.events import ChannelCreated, DirectMessageSent, DomainEvent, PostCreated
from intrablog.domain.ports import UnitOfWork

# PostgreSQL's limit is 8000 bytes (the default block size); we stay below it.
MAX_PAYLOAD_BYTES = 7_900

EVENT_TYPES: dict[str, type[Any]] = {cls.__name__: cls for cls in get_args(DomainEvent)}


class UndecodableEvent(ValueError):
    """A payload this node cannot turn back into an event (another version, or a bug)."""


# -- encoding ------------------------------------------------------------------------------------------------


def to_json(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: to_json(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [to_json(item) for item in value]
    if isinstance(value, dict):
        return {str(key): to_json(item) for key, item in value.items()}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"cannot encode {type(value).__name__} in an event")


def dumps(envelope: dict[str, Any]) -> str:
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False)


def fits(payload: str) -> bool:
    return len(payload.encode("utf-8")) <= MAX_PAYLOAD_BYTES


# -- decoding ------------------------------------------------------------------------------------------------


def decode_event(name: str, data: Any) -> DomainEvent:
    cls = EVENT_TYPES.get(name)
    if cls is None:
        raise UndecodableEvent(f"unknown event type {name!r}")
    try:
        return cast(DomainEvent, from_json(cls, data))
    except (TypeError, ValueError, KeyError) as exc:
        raise UndecodableEvent(f"bad {name} payload: {exc}") from exc


def from_json(hint: Any, value: Any) -> Any:
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        options = get_args(hint)
        if value is None and type(None) in options:
            return None
        concrete = [option for option in options if option is not type(None)]
        if len(concrete) != 1:
            raise TypeError(f"cannot decode the union {hint}")
        return from_json(concrete[0], value)
    if origin is tuple:
        item = get_args(hint)[0]
        return tuple(from_json(item, element) for element in _list(value))
    if origin is list:
        item = get_args(hint)[0]
        return [from_json(item, element) for element in _list(value)]
    if origin is dict:
        key_type, item = get_args(hint)
        if not isinstance(value, dict):
            raise TypeError(f"expected an object, got {value!r}")
        return {from_json(key_type, key): from_json(item, element) for key, element in value.items()}
    if isinstance(hint, type):
        return _scalar_or_dataclass(hint, value)
    raise TypeError(f"cannot decode {hint}")


def _scalar_or_dataclass(hint: type[Any], value: Any) -> Any:
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise TypeError(f"expected an object for {hint.__name__}, got {value!r}")
        hints = get_type_hints(hint)
        arguments = {
            field.name: from_json(hints[field.name], value[field.name])
            for field in dataclasses.fields(hint)
            if field.name in value  # absent: the field's default (an older sender)
        }
        return hint(**arguments)
    if issubclass(hint, enum.Enum):
        return hint(value)
    if hint is datetime:
        if not isinstance(value, str):
            raise TypeError(f"expected a timestamp, got {value!r}")
        return datetime.fromisoformat(value)
    if hint is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if hint is int and isinstance(value, bool):
        raise TypeError(f"expected an integer, got {value!r}")
    if isinstance(value, hint):
        return value
    if hint is int and isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)  # the keys of an int-keyed map come back from JSON as strings
    raise TypeError(f"expected {hint.__name__}, got {value!r}")


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError(f"expected a list, got {value!r}")
    return value


# -- references: what a node re-reads when an event was too large to travel --------------------------------

Loader = Callable[[UnitOfWork, int], Awaitable[DomainEvent | None]]


async def _post_created(uow: UnitOfWork, post_id: int) -> DomainEvent | None:
    post = await uow.posts.get(post_id)
    return PostCreated(post) if post is not None else None


async def _message_sent(uow: UnitOfWork, message_id: int) -> DomainEvent | None:
    messages = await uow.messages.get_many([message_id])
    return DirectMessageSent(messages[0]) if messages else None


async def _channel_created(uow: UnitOfWork, channel_id: int) -> DomainEvent | None:
    channel = await uow.channels.get(channel_id)
    return ChannelCreated(channel) if channel is not None else None


def reference_of(event: DomainEvent) -> int | None:
    """The id a receiver re-reads this event's object by, for the events that carry something large."""
    if isinstance(event, PostCreated):
        return event.post.id
    if isinstance(event, DirectMessageSent):
        return event.message.id
    if isinstance(event, ChannelCreated):
        return event.channel.id
    return None


LOADERS: dict[str, Loader] = {
    PostCreated.__name__: _post_created,
    DirectMessageSent.__name__: _message_sent,
    ChannelCreated.__name__: _channel_created,
}
