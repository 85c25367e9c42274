"""Writing an intrablog TOML configuration for a test that runs the `intrablog` command as a process."""

from __future__ import annotations

from pathlib import Path

from intrablog.config import LdapConfig


def write_config(folder: Path, database_url: str, ldap: LdapConfig, extra: str = "") -> Path:
    """``folder/intrablog.toml`` pointing at the given database and directory, with short LDAP timeouts."""
    password = ldap.bind_password.get_secret_value() if ldap.bind_password else ""
    path = folder / "intrablog.toml"
    path.write_text(
        f"""
[database]
url = "{database_url}"

[ldap]
url = "{ldap.url}"
bind_dn = "{ldap.bind_dn}"
bind_password = "{password}"
user_base = "{ldap.user_base}"
connect_timeout = 1.0
receive_timeout = 1.0
{extra}""",
        encoding="utf-8",
    )
    return path
