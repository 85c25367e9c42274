"""Log lines written while a stanza is handled carry its id, as web log lines carry the request id.

slixmpp runs each coroutine handler in a task of its own (with a copy of the context), so setting the
context variable for the handler's duration cannot leak into another stanza's handling.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from intrablog.observability import request_id


@contextmanager
def stanza_context(stanza_id: str | None) -> Iterator[None]:
    token = request_id.set(f"xmpp:{stanza_id}" if stanza_id else "xmpp:(no id)")
    try:
        yield
    finally:
        request_id.reset(token)
