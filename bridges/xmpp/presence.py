"""What the bridge knows of each person's presence, from the presence stanzas their server sends us.

A person subscribed to one of our addresses has their presence broadcast to it (once per address, per
resource). The book keeps the last presence of every resource and answers with the most available one
across them: someone ``away`` on their phone but ``available`` at their desk is available. Anyone never
heard of is ``UNAVAILABLE`` (their server's offline storage keeps what is sent meanwhile).

The book survives a reconnect of the component (a stale answer beats none); after each new session the
bridge probes everyone it knows, through the address that last heard from them, to refresh it.
"""

from __future__ import annotations

from collections.abc import Callable

from intrablog.domain.im import Presence, bare_jid

# Most available first. dnd ranks below away/xa: a person who is away on one device but explicitly asked
# not to be disturbed on another is treated as reachable, like the away device.
_RANK = (Presence.CHAT, Presence.AVAILABLE, Presence.AWAY, Presence.XA, Presence.DND, Presence.UNAVAILABLE)
_SHOWS = {
    "": Presence.AVAILABLE,
    "available": Presence.AVAILABLE,
    "chat": Presence.CHAT,
    "away": Presence.AWAY,
    "xa": Presence.XA,
    "dnd": Presence.DND,
}

PresenceCallback = Callable[[str, Presence, Presence], object]


def presence_of(stanza_type: str, show: str) -> Presence | None:
    """The presence a stanza states (``type`` and ``<show/>``); None for subscriptions, probes and errors."""
    if stanza_type == "unavailable":
        return Presence.UNAVAILABLE
    if stanza_type in ("", "available", "chat", "away", "xa", "dnd"):
        return _SHOWS.get(show, Presence.AVAILABLE)
    return None


class PresenceBook:
    def __init__(self, on_change: PresenceCallback | None = None) -> None:
        self._resources: dict[str, dict[str, Presence]] = {}
        self._via: dict[str, str] = {}  # bare JID -> the address of ours that last heard from them
        self._on_change = on_change

    def get(self, bare: str) -> Presence:
        resources = self._resources.get(bare_jid(bare))
        if not resources:
            return Presence.UNAVAILABLE
        return min(resources.values(), key=_RANK.index)

    def known(self, bare: str) -> bool:
        return bare_jid(bare) in self._via

    def heard_via(self) -> dict[str, str]:
        """Everyone heard from, and the address of ours that heard them (to probe after a reconnect)."""
        return dict(self._via)

    def update(self, full_jid: str, presence: Presence, via: str) -> tuple[Presence, Presence]:
        """Record one resource's presence; returns (before, after) for the person, and reports a change."""
        bare = bare_jid(full_jid)
        resource = full_jid.partition("/")[2]
        before = self.get(bare)
        resources = self._resources.setdefault(bare, {})
        if presence is Presence.UNAVAILABLE:
            if resource:
                resources.pop(resource, None)
            else:  # unavailable from the bare JID: every resource is gone
                resources.clear()
        else:
            resources[resource] = presence
        if not resources:
            del self._resources[bare]
        self._via[bare] = bare_jid(via)
        after = self.get(bare)
        if after is not before and self._on_change is not None:
            self._on_change(bare, before, after)
        return before, after
