"""The bridge's XMPP addresses: the bot, every channel and every person, all under the component's domain.

- the bot is the bare domain: ``blog.example.com``;
- channel ``NAME`` is ``NAME@blog.example.com``;
- person ``USERNAME`` is ``~USERNAME@blog.example.com``. A channel name starts with a letter or digit, so a
  ``~`` local part can never be a channel, and a user called ``launch`` never collides with the channel.

Everything the bridge sends comes from a full JID (``engineering@blog.example.com/blog``), because some
clients send receipts and replies to the sender's full JID and would otherwise lose them.

Pure string work (no slixmpp) so the scheme is unit-testable and reusable by the outbound worker.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from intrablog.domain.im import bare_jid
from intrablog.domain.rules import CHANNEL_NAME

RESOURCE = "blog"
PERSON_PREFIX = "~"

# XEP-0106: the characters a JID local part may not hold, and how they are written instead. A username
# from the directory could in principle contain one of them; escaping keeps every person addressable.
_ESCAPES = {
    " ": "\\20",
    '"': "\\22",
    "&": "\\26",
    "'": "\\27",
    "/": "\\2f",
    ":": "\\3a",
    "<": "\\3c",
    ">": "\\3e",
    "@": "\\40",
}
_UNESCAPES = {code: char for char, code in _ESCAPES.items()} | {"\\5c": "\\"}


class OutsideDomain(ValueError):
    """An address the component may not send from: a server closes the whole stream on such a stanza."""


class AddressKind(enum.StrEnum):
    BOT = "bot"
    CHANNEL = "channel"
    PERSON = "person"
    UNKNOWN = "unknown"  # in our domain but neither form (e.g. ``Not A Channel@blog.example.com``)
    FOREIGN = "foreign"  # not in our domain at all


@dataclass(frozen=True)
class Address:
    kind: AddressKind
    name: str  # the channel name or the username; "" for the bot and unknown addresses
    bare: str  # the bare JID, normalised (lower case)


def _escape_local(name: str) -> str:
    escaped = name.replace("\\", "\\5c")
    for char, code in _ESCAPES.items():
        escaped = escaped.replace(char, code)
    return escaped


def _unescape_local(local: str) -> str:
    out: list[str] = []
    index = 0
    while index < len(local):
        code = local[index : index + 3]
        if code in _UNESCAPES:
            out.append(_UNESCAPES[code])
            index += 3
        else:
            out.append(local[index])
            index += 1
    return "".join(out)


class Addresses:
    """The address scheme of one component domain."""

    def __init__(self, domain: str) -> None:
        self.domain = domain.lower()

    @property
    def bot_jid(self) -> str:
        return self.domain

    def channel_jid(self, name: str) -> str:
        return f"{name.lower()}@{self.domain}"

    def person_jid(self, username: str) -> str:
        return f"{PERSON_PREFIX}{_escape_local(username.lower())}@{self.domain}"

    def full(self, bare: str) -> str:
        """The full JID the bridge sends from for ``bare`` (one of ours); refuses anything else."""
        return f"{self.ensure_ours(bare)}/{RESOURCE}"

    def is_ours(self, jid: str) -> bool:
        return bare_jid(jid).rpartition("@")[2] == self.domain

    def ensure_ours(self, jid: str) -> str:
        """The bare form of ``jid`` if it is in our domain; raises OutsideDomain otherwise."""
        bare = bare_jid(jid)
        if not self.is_ours(bare):
            raise OutsideDomain(f"{jid!r} is not an address of {self.domain}")
        return bare

    def parse(self, jid: str) -> Address:
        bare = bare_jid(jid)
        local, at, host = bare.rpartition("@")
        if host != self.domain:
            return Address(AddressKind.FOREIGN, "", bare)
        if not at:
            return Address(AddressKind.BOT, "", bare)
        if local.startswith(PERSON_PREFIX):
            username = _unescape_local(local[len(PERSON_PREFIX) :])
            if username.strip() and username == username.strip():
                return Address(AddressKind.PERSON, username, bare)
            return Address(AddressKind.UNKNOWN, "", bare)
        if CHANNEL_NAME.fullmatch(local):
            return Address(AddressKind.CHANNEL, local, bare)
        return Address(AddressKind.UNKNOWN, "", bare)
