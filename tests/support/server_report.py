"""The closing line each server plugin prints (slapd, Prosody, the Samba AD DC), so the test log shows which
real server the suite used."""

from __future__ import annotations

from collections.abc import Callable

import pytest

# One entry per server started: ("session" or "private", where it listened).
ServersUsed = pytest.StashKey[list[tuple[str, str]]]


def record_server(config: pytest.Config, key: ServersUsed, label: str, where: str) -> None:
    config.stash.setdefault(key, []).append((label, where))


def report_servers(
    reporter: pytest.TerminalReporter,
    config: pytest.Config,
    key: ServersUsed,
    name: str,
    version: str | Callable[[], str],
) -> None:
    """``NAME: real server VERSION on WHERE (+N private instances)``; nothing if none was started.

    ``version`` may be a function: asked only when a server was started (a session without AD tests must not
    need Samba installed).
    """
    used = config.stash.get(key, [])
    if not used:
        return
    if callable(version):
        version = version()
    session = [where for label, where in used if label == "session"]
    where = session[0] if session else used[0][1]
    others = len(used) - len(session)
    extra = f" (+{others} private instance{'s' if others != 1 else ''})" if others else ""
    reporter.write_line(f"{name}: real server {version} on {where}{extra}")
