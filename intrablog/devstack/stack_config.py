"""Configuration of the dev stack: where its servers listen and keep their data, and the intrablog config
file it writes for them (SQLite under the workdir, the dev slapd, the dev Prosody's component, the demo
channels and admins).
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import SettingsConfigDict

from intrablog.config import FileThenEnvironment
from intrablog.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_STACK_FILE = REPO_ROOT / "deploy" / "dev" / "stack.toml"
ENV_PREFIX = "INTRABLOG_DEV_"
SUFFIX = "dc=example,dc=com"
LDAP_ADMIN_DN = f"cn=admin,{SUFFIX}"
LDAP_ADMIN_PASSWORD = "admin-secret"
# The people of deploy/dev/directory.ldif (password: <username>-pass) and what the demo makes of them.
DEMO_LOGINS = (
    ("alice", "site admin; engineering, executives; posts in announcements"),
    ("bob", "engineering"),
    ("carol", "hr; posts in announcements"),
    ("dave", "no groups"),
)
# The dev Prosody: every demo person has the XMPP account <username>@XMPP_DOMAIN with the same password.
XMPP_DOMAIN = "example.com"
XMPP_COMPONENT_DOMAIN = "blog.example.com"
XMPP_COMPONENT_SECRET = "component-secret"
XMPP_MUC_DOMAIN = "rooms.example.com"


class WebEndpoint(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)


class LdapEndpoint(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    port: int = Field(3890, ge=1, le=65535)


class XmppEndpoints(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    client_port: int = Field(5222, ge=1, le=65535)
    component_port: int = Field(5347, ge=1, le=65535)


class StackConfig(FileThenEnvironment):
    """Where the dev stack listens and keeps its data. Relative paths are taken from the repository root."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", frozen=True)

    workdir: Path = Path("var/dev")
    directory_ldif: Path = Path("deploy/dev/directory.ldif")
    web: WebEndpoint = WebEndpoint()
    ldap: LdapEndpoint = LdapEndpoint()
    xmpp: XmppEndpoints = XmppEndpoints()

    @property
    def web_url(self) -> str:
        """The address a browser on this machine uses (a wildcard host is reached through 127.0.0.1)."""
        host = "127.0.0.1" if self.web.host in ("0.0.0.0", "") else self.web.host  # noqa: S104
        return f"http://{host}:{self.web.port}"

    @property
    def config_path(self) -> Path:
        return self.workdir / "intrablog.toml"

    @property
    def logs(self) -> Path:
        return self.workdir / "logs"


def load_stack_config(path: Path | None = None) -> StackConfig:
    """Read the stack file (default deploy/dev/stack.toml) and the environment; ConfigError names file and key."""
    path = path or DEFAULT_STACK_FILE
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError("(file)", f"cannot read: {exc}", str(path)) from None
    try:
        stack = StackConfig(**data)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(part) for part in first["loc"]) or "(top level)"
        reason = "unknown key" if first["type"] == "extra_forbidden" else str(first["msg"])
        raise ConfigError(key, reason, str(path)) from None
    return stack.model_copy(
        update={"workdir": REPO_ROOT / stack.workdir, "directory_ldif": REPO_ROOT / stack.directory_ldif}
    )


def _toml(value: str) -> str:
    # A JSON string without ASCII escaping is a valid TOML basic string.
    return json.dumps(value, ensure_ascii=False)


def render_intrablog_config(stack: StackConfig) -> str:
    """The intrablog config file of the stack: SQLite under the workdir, the dev slapd, the dev Prosody's
    component, the demo channels."""
    database = stack.workdir.resolve() / "intrablog.db"
    return f"""\
# Written by `python -m intrablog.devstack` at each start (intrablog/devstack/stack_config.py): edits are lost.
# Site admins: the admins group of the demo directory (alice), and alice by name before the first sync.
admins = ["alice"]
admin_groups = ["admins"]

[server]
host = {_toml(stack.web.host)}
port = {stack.web.port}
public_url = {_toml(stack.web_url)}
secret_key = "dev-stack-only-not-a-secret"

[database]
url = {_toml(f"sqlite+aiosqlite:///{database}")}

[ldap]
url = "ldap://127.0.0.1:{stack.ldap.port}"
mode = "search"
bind_dn = {_toml(LDAP_ADMIN_DN)}
bind_password = {_toml(LDAP_ADMIN_PASSWORD)}
user_base = {_toml(SUFFIX)}

[xmpp]
enabled = true
host = "127.0.0.1"
port = {stack.xmpp.component_port}
domain = {_toml(XMPP_COMPONENT_DOMAIN)}
secret = {_toml(XMPP_COMPONENT_SECRET)}
server_domain = {_toml(XMPP_DOMAIN)}

[logging]
level = "INFO"
json = false

[[channels]]
name = "engineering"
title = "Engineering"
kind = "team"
groups = ["engineering"]

[[channels]]
name = "launch"
title = "Launch"
kind = "project"

[[channels]]
name = "announcements"
title = "Announcements"
kind = "announcement"
posters = ["carol", "alice"]
poster_groups = ["hr", "executives"]
"""
