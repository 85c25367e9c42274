"""Shared fixtures. Real servers come from the plugins in tests/support/ (one owner each)."""

from __future__ import annotations

pytest_plugins = [
    "tests.support.slapd_fixtures",
    "tests.support.samba_fixtures",
    "tests.support.xmpp_fixtures",
    "tests.support.database_fixtures",
    "tests.support.app_fixtures",
    "tests.support.browser_fixtures",
    "tests.support.bridge_fixtures",
    "tests.support.launcher",
]
