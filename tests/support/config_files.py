"""Writing an intrablog TOML configuration for a test that runs the `intrablog` command as a process (one
that checks the configuration, syncs the directory, or serves with its bridge)."""

from __future__ import annotations

from pathlib import Path

from intrablog.config import LdapConfig, Settings


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


def write_serve_config(path: Path, settings: Settings, port: int) -> Path:
    """A TOML file ``intrablog serve`` (or the runner) reads: ``settings`` served on 127.0.0.1:``port``."""
    ldap = settings.ldap
    xmpp = settings.xmpp
    channels = "\n".join(
        f'[[channels]]\nname = "{seed.name}"\ntitle = "{seed.title}"\nkind = "{seed.kind}"\n'
        f"posters = [{', '.join(repr(p).replace(chr(39), chr(34)) for p in seed.posters)}]\n"
        for seed in settings.channels
    )
    text = f"""
admins = ["alice"]

[server]
host = "127.0.0.1"
port = {port}
public_url = "{settings.server.public_url}"

[database]
url = "{settings.database.url}"
auto_migrate = true

[ldap]
url = "{ldap.url}"
bind_dn = "{ldap.bind_dn}"
bind_password = "{ldap.bind_password.get_secret_value() if ldap.bind_password else ""}"
user_base = "{ldap.user_base}"

[xmpp]
enabled = true
host = "{xmpp.host}"
port = {xmpp.port}
domain = "{xmpp.domain}"
secret = "{xmpp.secret.get_secret_value()}"
server_domain = "{xmpp.server_domain}"
batch_size = {xmpp.batch_size}

[logging]
level = "WARNING"
json = false

{channels}
"""
    path.write_text(text, encoding="utf-8")
    return path
