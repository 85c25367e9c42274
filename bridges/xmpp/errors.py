"""Errors → what the person on IM is told, and what goes into a stanza error. The one place that decides it.

The services raise the errors of ``intrablog.errors``; this module maps each class, once, to an XMPP
error condition and type (RFC 6120 §8.3) and to the sentence a person reads. Chat messages are answered
with a chat message explaining (clients show a message error as a bare red mark, without the reason), iq
requests with a stanza error (``XMPPError``, which slixmpp turns into the error reply itself).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from slixmpp.exceptions import XMPPError
from slixmpp.types import ErrorConditions, ErrorTypes

from intrablog.errors import (
    Conflict,
    Forbidden,
    IntrablogError,
    Invalid,
    NotFound,
    Unauthenticated,
    Unavailable,
)

log = logging.getLogger(__name__)

REFUSAL = (
    "This address is not known to intrablog: ask your administrator to link your XMPP address "
    "to your directory entry. Nothing was posted."
)


@dataclass(frozen=True)
class ErrorRule:
    condition: ErrorConditions
    type: ErrorTypes
    prefix: str  # what the person reads before the detail; the detail is dropped when the prefix is whole


# Most specific first: the first class the error is an instance of decides.
ERROR_TABLE: tuple[tuple[type[IntrablogError], ErrorRule], ...] = (
    (Invalid, ErrorRule("bad-request", "modify", "Not done: ")),
    (NotFound, ErrorRule("item-not-found", "cancel", "Not found: ")),
    (Forbidden, ErrorRule("forbidden", "auth", "Not allowed: ")),
    # The sender's JID maps to no active user. The reason is never more specific than this.
    (Unauthenticated, ErrorRule("not-authorized", "auth", REFUSAL)),
    (Conflict, ErrorRule("conflict", "cancel", "Not done: ")),
    # A dependency is down; "wait" tells a client that trying again later is right. Not service-unavailable:
    # in XMPP that means the address or feature does not exist.
    (
        Unavailable,
        ErrorRule("internal-server-error", "wait", "intrablog cannot do that right now (nothing was changed): "),
    ),
)
_UNEXPECTED = ErrorRule(
    "internal-server-error", "cancel", "Something went wrong on intrablog's side; please try again later."
)

# Labels for the fields the services name in Invalid, so "text: is 1000 characters" reads as a sentence.
_FIELD_LABELS = {"text": "your message", "name": "the name", "word": "the word"}
_SENTENCE_CONTINUATIONS = ("is ", "must ", "has ", "contains ", "may ")


@dataclass(frozen=True)
class ErrorReply:
    text: str  # the chat message to send back
    condition: ErrorConditions
    type: ErrorTypes

    def stanza_error(self) -> XMPPError:
        """The slixmpp ``XMPPError`` to raise from an iq handler (slixmpp replies with it)."""
        return XMPPError(condition=self.condition, text=self.text, etype=self.type)


def _rule_for(error: BaseException) -> ErrorRule:
    for kind, rule in ERROR_TABLE:
        if isinstance(error, kind):
            return rule
    return _UNEXPECTED


def _detail(error: IntrablogError) -> str:
    if isinstance(error, Invalid):
        parts = []
        for fault in error.errors:
            reason = fault.reason
            if reason.startswith(_SENTENCE_CONTINUATIONS):
                reason = f"{_FIELD_LABELS.get(fault.field, fault.field)} {reason}"
            parts.append(reason)
        return "; ".join(parts)
    return error.detail


def error_reply(error: BaseException) -> ErrorReply:
    """What to answer for ``error``, raised while handling a stanza. Unexpected errors are logged here."""
    rule = _rule_for(error)
    if rule is _UNEXPECTED:
        # The stanza id is in the log context (request_id), so the person's report can be found.
        log.error("unexpected error while handling a stanza", exc_info=error)
        return ErrorReply(rule.prefix, rule.condition, rule.type)
    assert isinstance(error, IntrablogError)  # every rule in the table is for one
    if rule.prefix.endswith(": "):
        text = f"{rule.prefix}{_detail(error)}"
        text = text if text.endswith((".", "!", "?")) else f"{text}."
    else:
        text = rule.prefix
    return ErrorReply(text, rule.condition, rule.type)
