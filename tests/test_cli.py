"""The intrablog command against real servers: check-config, migrate, seed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from intrablog.config import LdapConfig
from intrablog.devstack.slapd import Slapd
from tests.support.config_files import write_config

ENGINEERING = """
[[channels]]
name = "engineering"
title = "Engineering"
"""


def _intrablog(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "intrablog.cli", *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_check_config_reports_what_works(
    tmp_path: Path, sqlite_url: str, private_ldap_config: LdapConfig, private_slapd: Slapd
) -> None:
    path = write_config(tmp_path, sqlite_url, private_ldap_config, ENGINEERING)
    result = _intrablog("check-config", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok    database answers" in result.stdout
    assert f"ok    directory answers at {private_ldap_config.url}" in result.stdout
    assert "note  single node: SQLite deployments run one intrablog process" in result.stdout
    assert "several nodes" not in result.stdout

    private_slapd.stop()
    result = _intrablog("check-config", str(path))
    assert result.returncode == 1
    assert "FAIL  directory" in result.stdout
    assert "ok    database answers" in result.stdout
    assert "Traceback" not in result.stderr
    # The bind password of the service account never appears.
    assert "admin-secret" not in result.stdout + result.stderr


def test_check_config_on_postgresql_says_several_nodes_may_share_it(
    tmp_path: Path, postgres_url: str, ldap_config: LdapConfig
) -> None:
    path = write_config(tmp_path, postgres_url, ldap_config, "[xmpp]\nleader_retry_seconds = 2\n")
    result = _intrablog("check-config", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok    database answers at postgresql+asyncpg://" in result.stdout
    assert (
        "note  several nodes may share this database; one runs the bridge (advisory lock), the others try to "
        "take it every 2 s (xmpp.leader_retry_seconds); a hung node keeps it at most 10 s" in result.stdout
    )
    assert "single node" not in result.stdout


def test_check_config_names_a_leader_timeout_too_short_for_its_checks(
    tmp_path: Path, postgres_url: str, ldap_config: LdapConfig
) -> None:
    path = write_config(tmp_path, postgres_url, ldap_config, "[xmpp]\nleader_timeout_seconds = 1.5\n")
    result = _intrablog("check-config", str(path))
    assert result.returncode == 2
    assert (
        f"intrablog: configuration error: {path}: xmpp.leader_timeout_seconds: must be more than twice "
        "leader_retry_seconds (1.0)" in result.stderr
    )
    assert "Traceback" not in result.stderr


def test_migrate_then_seed(tmp_path: Path, fresh_database_url: object, ldap_config: LdapConfig) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    path = write_config(tmp_path, url, ldap_config, ENGINEERING)
    migrated = _intrablog("migrate", "--config", str(path))
    assert migrated.returncode == 0, migrated.stderr
    assert "latest schema" in migrated.stdout
    seeded = _intrablog("seed", "--config", str(path))
    assert seeded.returncode == 0, seeded.stderr
    assert "channels created: engineering" in seeded.stdout
    again = _intrablog("seed", "--config", str(path))
    assert "none (all exist)" in again.stdout
