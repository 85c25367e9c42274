"""JSON logs with a request id on every request line, and never a password or token."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from intrablog.observability import configure_logging
from tests.support.app_fixtures import Api


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    configure_logging("DEBUG", json_format=True, stream=stream)
    yield stream
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


async def test_request_lines_are_json_with_request_id_and_no_secrets(api: Api, json_logs: io.StringIO) -> None:
    login = await api.client.post(
        "/api/v1/login", json={"username": "alice", "password": "alice-pass"}, headers={"X-Request-ID": "req-login-1"}
    )
    token = (await login.json())["token"]
    await api.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}", "X-Request-ID": "req-me-2"})
    await api.client.post("/api/v1/login", json={"username": "bob", "password": "wrong-secret-pw"})
    logging.getLogger("intrablog.test").info("careless", extra={"password": "alice-pass", "api_token": token})

    output = json_logs.getvalue()
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert lines, output
    access = [line for line in lines if line.get("logger") == "intrablog.web"]
    assert {line["request_id"] for line in access} >= {"req-login-1", "req-me-2"}
    assert all(line["request_id"] for line in access)
    for secret in ("alice-pass", "wrong-secret-pw", token):
        assert secret not in output
