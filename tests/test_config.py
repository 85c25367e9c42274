"""Configuration: the file, environment overrides, and errors that name the file and the key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from intrablog.config import load_settings
from intrablog.errors import ConfigError


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "intrablog.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_a_file() -> None:
    settings = load_settings(None)
    assert settings.posts.max_post_chars == 280
    assert settings.server.public_url == "http://127.0.0.1:8080"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[ldap]\nurl = "http://nope"\n', "ldap.url"),
        ('[ldap]\nurl = "ldap://host:notaport"\n', "ldap.url"),
        ("[posts]\nmax_post_chars = 0\n", "posts.max_post_chars"),
        ('[database]\nurl = "mysql://x"\n', "database.url"),
        ('[server]\nport = "eighty"\n', "server.port"),
        ('[ldap]\nuser_filter = "(uid=x)"\n', "ldap.user_filter"),
        ('[ldap]\nmode = "direct"\n', "ldap"),
        ("[ldap]\ncolour = 1\n", "ldap.colour"),
        ('[[channels]]\nname = "Bad Name"\ntitle = "x"\n', "channels.0.name"),
    ],
)
def test_bad_values_name_file_and_key(tmp_path: Path, text: str, key: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert caught.value.key == key
    assert str(caught.value).startswith(f"{path}: {key}: ")


def test_unreadable_or_broken_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_settings(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(_write(tmp_path, "[ldap\n"))


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path, '[ldap]\nurl = "ldap://file.example:389"\n[posts]\nmax_post_chars = 500\n')
    monkeypatch.setenv("INTRABLOG_LDAP__URL", "ldaps://env.example:636")
    settings = load_settings(path)
    assert settings.ldap.url == "ldaps://env.example:636"
    assert settings.posts.max_post_chars == 500
    monkeypatch.setenv("INTRABLOG_POSTS__MAX_POST_CHARS", "-3")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert caught.value.key == "posts.max_post_chars"


def test_cli_reports_config_errors_without_traceback(tmp_path: Path) -> None:
    path = _write(tmp_path, '[ldap]\nurl = "http://nope"\n')
    result = subprocess.run(
        [sys.executable, "-m", "intrablog.cli", "check-config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert f"{path}: ldap.url: must be an ldap:// or ldaps:// URL" in result.stderr
    assert "Traceback" not in result.stderr
