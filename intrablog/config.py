"""Typed configuration: one TOML file plus ``INTRABLOG_SECTION__KEY`` environment overrides.

Every problem is reported as a :class:`ConfigError` naming the file and the key path (``ldap.url: ...``).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from intrablog.errors import ConfigError

ENV_PREFIX = "INTRABLOG_"
CHANNEL_NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{1,31}$"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerConfig(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    public_url: str = "http://127.0.0.1:8080"
    # Signs CSRF tokens. Several nodes behind one name must share it; unset, each start draws a new one.
    secret_key: SecretStr | None = None

    @field_validator("public_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an absolute http:// or https:// URL")
        return value.rstrip("/")


class DatabaseConfig(_Section):
    url: str = "sqlite+aiosqlite:///var/intrablog.db"
    auto_migrate: bool = True
    echo: bool = False

    @field_validator("url")
    @classmethod
    def _supported(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")


class LdapAttributes(_Section):
    username: str = "uid"
    display_name: str = "cn"
    mail: str = "mail"
    # Attribute naming a person's department: acknowledgement reports group by it.
    department: str = "departmentNumber"
    # Attribute holding the XMPP address; when unset, ``ldap.xmpp_template`` builds it.
    xmpp: str | None = None


class LdapGroups(_Section):
    """Which entries are groups and how they name their members (read by the directory sync)."""

    # Where groups are searched; unset, ldap.user_base.
    base: str | None = None
    # Groups whose members are DNs (groupOfNames, groupOfUniqueNames, Active Directory "group").
    member_dn_classes: list[str] = ["groupOfNames", "groupOfUniqueNames"]
    member_dn_attributes: list[str] = ["member", "uniqueMember"]
    # Groups whose members are usernames (posixGroup memberUid).
    member_uid_classes: list[str] = ["posixGroup"]
    member_uid_attribute: str = "memberUid"
    name_attribute: str = "cn"
    # "in_chain": ask Active Directory for each group's members, nested groups included, with the in-chain
    # matching rule (memberOf:1.2.840.113556.1.4.1941:=<group DN>). "local": resolve groups that contain
    # groups here, from the member DNs read.
    nested: Literal["local", "in_chain"] = "local"


class LdapConfig(_Section):
    url: str = "ldap://127.0.0.1:389"
    mode: Literal["search", "direct"] = "search"
    bind_dn: str | None = None
    bind_password: SecretStr | None = None
    user_base: str = "dc=example,dc=com"
    user_filter: str = "(&(objectClass=inetOrgPerson)(uid={username}))"
    # Direct mode: the bind name, e.g. "{username}@corp.example" or "uid={username},ou=people,dc=example,dc=com".
    bind_template: str | None = None
    attributes: LdapAttributes = LdapAttributes()
    xmpp_template: str = "{username}@example.com"
    start_tls: bool = False
    ca_file: Path | None = None
    # Host names the server certificate may carry when it has none for the address we connect to.
    tls_valid_names: list[str] = []
    connect_timeout: float = Field(3.0, gt=0, le=30)
    receive_timeout: float = Field(3.0, gt=0, le=30)
    # The directory sync: every person the filter matches under user_base is an active user; the others
    # are deactivated, after a complete listing only.
    people_filter: str = "(objectClass=inetOrgPerson)"
    groups: LdapGroups = LdapGroups()
    # Entries per page of the paged searches (simple paged results control); 0 = one unpaged search.
    page_size: int = Field(500, ge=0, le=100_000)
    # Minutes between two background syncs inside `intrablog serve`; 0 = never (run `intrablog sync-directory`).
    sync_interval_minutes: float = Field(15, ge=0)
    # The longest a whole listing may take before the sync gives up (and changes nothing).
    sync_timeout: float = Field(300.0, gt=0)

    @field_validator("url")
    @classmethod
    def _ldap_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("ldap", "ldaps") or not parts.hostname:
            raise ValueError("must be an ldap:// or ldaps:// URL with a host")
        try:
            parts.port  # noqa: B018 - raises on a malformed port
        except ValueError as exc:
            raise ValueError(f"has a bad port ({exc})") from None
        return value

    @field_validator("user_filter")
    @classmethod
    def _filter_has_placeholder(cls, value: str) -> str:
        if "{username}" not in value:
            raise ValueError("must contain {username}")
        return value

    @field_validator("ca_file")
    @classmethod
    def _ca_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"no such file: {value}")
        return value

    @model_validator(mode="after")
    def _mode_needs(self) -> LdapConfig:
        if self.mode == "direct" and (not self.bind_template or "{username}" not in self.bind_template):
            raise ValueError("mode 'direct' needs bind_template containing {username}")
        if self.start_tls and self.url.startswith("ldaps://"):
            raise ValueError("start_tls makes no sense with an ldaps:// url")
        return self


class XmppConfig(_Section):
    """The bridge: an external component (XEP-0114) on the company's XMPP server."""

    enabled: bool = False
    # Where the XMPP server listens for components, and the component's own domain and secret.
    host: str = "127.0.0.1"
    port: int = Field(5347, ge=1, le=65535)
    domain: str = "blog.example.com"
    secret: SecretStr = SecretStr("component-secret")
    # The XMPP server's own domain: the bridge pings it to have a batch of messages confirmed.
    server_domain: str = "example.com"
    # Messages sent per batch before the bridge asks the server to confirm with an iq ping.
    batch_size: int = Field(50, ge=1, le=1000)
    reconnect_max_delay: float = Field(10.0, gt=0, le=300)
    # Several nodes on one PostgreSQL: one of them runs the bridge, the holder of an advisory lock. The others
    # try to take it this often (seconds), and the holder checks its hold as often.
    leader_retry_seconds: float = Field(1.0, gt=0, le=60)
    # How long a bridge node that stops answering (hung, or its machine or network gone) keeps the lock
    # before PostgreSQL ends its session: the lock connection's idle_session_timeout and TCP keepalives.
    # A node that exits or is killed releases it at once.
    leader_timeout_seconds: float = Field(10.0, gt=0, le=600, validate_default=True)

    @field_validator("domain", "server_domain")
    @classmethod
    def _domain(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?", value) or ".." in value:
            raise ValueError("must be a domain name such as blog.example.com")
        return value

    @field_validator("leader_timeout_seconds")
    @classmethod
    def _leader_timeout_covers_checks(cls, value: float, info: ValidationInfo) -> float:
        retry = info.data.get("leader_retry_seconds")
        # The holder's checks, every leader_retry_seconds, are what keep its lock session from timing out.
        if retry is not None and value <= 2 * retry:
            raise ValueError(f"must be more than twice leader_retry_seconds ({retry})")
        return value


class PostsConfig(_Section):
    max_post_chars: int = Field(280, ge=1, le=100_000)


class AnnouncementsConfig(_Section):
    """Announcements that ask for acknowledgement."""

    # Those who have not acknowledged get one reminder (IM and web) this long after the announcement;
    # 0 = never remind.
    reminder_delay_minutes: float = Field(240, ge=0)
    # How often `intrablog serve` looks for announcements whose reminder is due.
    reminder_check_seconds: float = Field(60, gt=0, le=3600)


class SessionsConfig(_Section):
    token_ttl_hours: float = Field(24 * 14, gt=0)
    cookie_name: str = "intrablog_session"


class LoggingConfig(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    json_format: bool = Field(True, alias="json")


class ChannelSeed(_Section):
    name: str = Field(pattern=CHANNEL_NAME_PATTERN)
    title: str
    kind: Literal["team", "project", "announcement"] = "team"
    visibility: Literal["public", "private"] = "public"
    description: str = ""
    # Usernames allowed to post (announcement channels); kept next to poster_groups.
    posters: list[str] = []
    # Directory groups bound to the channel, by name (cn) or by DN (a value with "=" in it), case-insensitive:
    # their members become members and followers at each directory sync, with the role of the list.
    groups: list[str] = []
    poster_groups: list[str] = []
    admin_groups: list[str] = []


class FileThenEnvironment(BaseSettings):
    """Settings read from a file (passed as arguments) that the environment may override key by key."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (env_settings, init_settings)


class Settings(FileThenEnvironment):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", frozen=True)

    server: ServerConfig = ServerConfig()
    database: DatabaseConfig = DatabaseConfig()
    ldap: LdapConfig = LdapConfig()
    posts: PostsConfig = PostsConfig()
    xmpp: XmppConfig = XmppConfig()
    announcements: AnnouncementsConfig = AnnouncementsConfig()
    sessions: SessionsConfig = SessionsConfig()
    logging: LoggingConfig = LoggingConfig()
    # Site admins: these usernames, and the members of these directory groups (by name or DN).
    admins: list[str] = []
    admin_groups: list[str] = []
    channels: list[ChannelSeed] = []


def _key_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def load_settings(path: Path | None) -> Settings:
    """Read ``path`` (optional) and the environment; raise ConfigError naming file and key."""
    data: dict[str, Any] = {}
    source = str(path) if path is not None else "environment"
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError("(file)", "no such file", source) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError("(file)", f"cannot read: {exc}", source) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError("(file)", f"not valid TOML: {exc}", source) from None
    try:
        return Settings(**data)
    except ValidationError as exc:
        first = exc.errors()[0]
        reason = str(first["msg"]).removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            reason = "unknown key"
        raise ConfigError(_key_path(first["loc"]), reason, source) from None
