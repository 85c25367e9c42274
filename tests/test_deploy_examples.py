"""The configuration files we ship load, say what they claim, and fail loudly when broken.

deploy/intrablog.example.toml is the production example (every key, documented); deploy/dev/stack.toml and
the config the dev stack writes are what `make run` uses.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import get_args, get_origin

import pytest
from pydantic import BaseModel

from intrablog.config import Settings, load_settings
from intrablog.devstack.stack_config import (
    REPO_ROOT,
    LdapEndpoint,
    StackConfig,
    WebEndpoint,
    XmppEndpoints,
    load_stack_config,
    render_intrablog_config,
)
from intrablog.errors import ConfigError

EXAMPLE = REPO_ROOT / "deploy" / "intrablog.example.toml"
STACK_FILE = REPO_ROOT / "deploy" / "dev" / "stack.toml"


@pytest.fixture(autouse=True)
def _no_config_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # INTRABLOG_* variables of whoever runs the suite must not change what these files say.
    for name in list(os.environ):
        if name.startswith("INTRABLOG_"):
            monkeypatch.delenv(name)


def _copy_with(tmp_path: Path, old: str, new: str, source: Path = EXAMPLE) -> Path:
    text = source.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} should occur once in {source}"
    copy = tmp_path / source.name
    copy.write_text(text.replace(old, new), encoding="utf-8")
    return copy


def test_production_example_loads_with_postgresql_and_openldap_search() -> None:
    settings = load_settings(EXAMPLE)

    assert settings.database.url.startswith("postgresql+asyncpg://")
    assert not settings.database.is_sqlite
    assert settings.server.host == "127.0.0.1"
    assert settings.server.public_url == "https://blog.corp.example"
    assert settings.server.secret_key is not None
    assert "CHANGE-ME" in settings.server.secret_key.get_secret_value()
    assert settings.ldap.url == "ldap://ldap.corp.example:389"
    assert settings.ldap.mode == "search"
    assert settings.ldap.bind_dn == "cn=intrablog,ou=services,dc=corp,dc=example"
    assert settings.ldap.bind_password is not None
    assert settings.ldap.bind_password.get_secret_value() == "CHANGE-ME"
    assert settings.ldap.start_tls is True
    assert settings.ldap.attributes.username == "uid"
    assert settings.logging.json_format is True
    assert settings.admins == ["alice"]
    assert [(c.name, c.kind, c.visibility) for c in settings.channels] == [
        ("engineering", "team", "public"),
        ("board", "project", "private"),
        ("announcements", "announcement", "public"),
    ]
    assert settings.channels[2].posters == ["alice"]
    # The bridge stays off until the XMPP server has the component of deploy/prosody or deploy/ejabberd.
    assert not settings.xmpp.enabled
    assert (settings.xmpp.host, settings.xmpp.port, settings.xmpp.domain) == ("127.0.0.1", 5347, "blog.example.com")
    assert "CHANGE-ME" in settings.xmpp.secret.get_secret_value()
    assert settings.xmpp.server_domain == "corp.example"


def _keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Every key path of a config model, as written in TOML (aliases included)."""
    paths: list[str] = []
    for name, field in model.model_fields.items():
        key = field.alias or name
        annotation = field.annotation
        item = get_args(annotation)[0] if get_origin(annotation) is list else None
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            paths.extend(_keys(annotation, f"{prefix}{key}."))
        elif isinstance(item, type) and issubclass(item, BaseModel):
            paths.extend(_keys(item, f"{prefix}{key}[]."))
        else:
            paths.append(f"{prefix}{key}")
    return paths


def test_production_example_documents_every_key() -> None:
    """A key added to intrablog/config.py must be added to the example too (set, or commented out)."""
    text = EXAMPLE.read_text(encoding="utf-8")
    keys = _keys(Settings)
    assert "ldap.attributes.xmpp" in keys
    assert "channels[].posters" in keys
    missing = [
        path
        for path in keys
        if not re.search(rf"^[ \t]*(# ?)?{re.escape(path.rsplit('.', 1)[-1])}[ \t]*=", text, re.MULTILINE)
    ]
    assert missing == []


def test_active_directory_alternative_in_the_example_loads(tmp_path: Path) -> None:
    """The commented Active Directory block, uncommented in place of the OpenLDAP one, is a valid config."""
    text = EXAMPLE.read_text(encoding="utf-8")
    block = re.search(r"^# --- Active Directory.*?\n(.*?)^# -{20,}\n", text, re.MULTILINE | re.DOTALL)
    assert block is not None
    ad_lines = [line.removeprefix("# ").removeprefix("#") for line in block.group(1).splitlines()]
    ad = "\n".join(line for line in ad_lines if not line.startswith("Replace"))
    ca_file = tmp_path / "corp-ca.pem"
    ca_file.write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    ad = ad.replace('"/etc/intrablog/corp-ca.pem"', f'"{ca_file}"')
    before_ldap, rest = text.split("\n[ldap]\n", 1)
    after_ldap = rest[rest.index("\n[posts]\n") :]
    copy = tmp_path / "intrablog-ad.toml"
    copy.write_text(f"{before_ldap}\n{ad}\n{after_ldap}", encoding="utf-8")

    ldap = load_settings(copy).ldap

    assert ldap.url == "ldaps://dc1.corp.example:636"
    assert ldap.mode == "direct"
    assert ldap.bind_template == "{username}@corp.example"
    assert ldap.ca_file == ca_file
    assert ldap.tls_valid_names == ["dc1.corp.example"]
    assert ldap.attributes.username == "sAMAccountName"
    assert ldap.bind_dn is None


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ('url = "ldap://ldap.corp.example:389"', 'url = "http://ldap.corp.example"', "ldap.url"),
        ('url = "ldap://ldap.corp.example:389"', 'url = "ldap://ldap.corp.example:port"', "ldap.url"),
        ("[server]\n", '[server]\ncolour = "blue"\n', "server.colour"),
        ("max_post_chars = 280", "max_post_chars = 0", "posts.max_post_chars"),
    ],
)
def test_a_broken_example_names_the_file_and_the_key(tmp_path: Path, old: str, new: str, key: str) -> None:
    broken = _copy_with(tmp_path, old, new)

    with pytest.raises(ConfigError) as caught:
        load_settings(broken)

    assert caught.value.key == key
    assert str(broken) in str(caught.value)
    assert f"{key}:" in str(caught.value)


def test_dev_stack_file_has_the_fixed_addresses_of_the_design() -> None:
    stack = load_stack_config(STACK_FILE)

    assert (stack.web.host, stack.web.port) == ("127.0.0.1", 8080)
    assert stack.web_url == "http://127.0.0.1:8080"
    assert stack.ldap.port == 3890
    assert (stack.xmpp.client_port, stack.xmpp.component_port) == (5222, 5347)
    assert stack.workdir == REPO_ROOT / "var" / "dev"
    assert stack.directory_ldif.is_file()


def test_dev_stack_file_is_overridden_by_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("INTRABLOG_DEV_WEB__PORT", "18080")
    monkeypatch.setenv("INTRABLOG_DEV_LDAP__PORT", "13890")
    monkeypatch.setenv("INTRABLOG_DEV_WORKDIR", str(tmp_path))
    monkeypatch.setenv("INTRABLOG_DEV_XMPP__CLIENT_PORT", "15222")
    monkeypatch.setenv("INTRABLOG_DEV_XMPP__COMPONENT_PORT", "15347")

    stack = load_stack_config(STACK_FILE)

    assert (stack.web.host, stack.web.port, stack.ldap.port) == ("127.0.0.1", 18080, 13890)
    assert (stack.xmpp.client_port, stack.xmpp.component_port) == (15222, 15347)
    assert stack.workdir == tmp_path


def test_a_broken_dev_stack_file_names_the_file_and_the_key(tmp_path: Path) -> None:
    broken = _copy_with(tmp_path, "port = 8080", "prot = 8080", source=STACK_FILE)

    with pytest.raises(ConfigError) as caught:
        load_stack_config(broken)

    assert caught.value.key == "web.prot"
    assert str(broken) in str(caught.value)


def test_generated_dev_config_points_at_the_dev_stack(tmp_path: Path) -> None:
    stack = StackConfig(
        workdir=tmp_path,
        web=WebEndpoint(port=18080),
        ldap=LdapEndpoint(port=13890),
        xmpp=XmppEndpoints(client_port=15222, component_port=15347),
    )
    config = tmp_path / "intrablog.toml"
    config.write_text(render_intrablog_config(stack), encoding="utf-8")

    settings = load_settings(config)

    assert settings.database.url == f"sqlite+aiosqlite:///{tmp_path}/intrablog.db"
    assert (settings.server.host, settings.server.port) == ("127.0.0.1", 18080)
    assert settings.server.public_url == "http://127.0.0.1:18080"
    assert settings.ldap.url == "ldap://127.0.0.1:13890"
    assert settings.ldap.mode == "search"
    assert settings.ldap.bind_dn == "cn=admin,dc=example,dc=com"
    assert settings.ldap.bind_password is not None
    assert settings.ldap.bind_password.get_secret_value() == "admin-secret"
    assert settings.ldap.user_base == "dc=example,dc=com"
    assert settings.xmpp.enabled
    assert (settings.xmpp.host, settings.xmpp.port) == ("127.0.0.1", 15347)
    assert (settings.xmpp.domain, settings.xmpp.server_domain) == ("blog.example.com", "example.com")
    assert settings.xmpp.secret.get_secret_value() == "component-secret"
    assert settings.admins == ["alice"]
    assert [(c.name, c.kind, c.title, c.posters) for c in settings.channels] == [
        ("engineering", "team", "Engineering", []),
        ("launch", "project", "Launch", []),
        ("announcements", "announcement", "Announcements", ["carol", "alice"]),
    ]
