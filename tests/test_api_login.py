"""Sign-in, sessions, cookies and CSRF through the API (acceptance: issue 3, item 3)."""

from __future__ import annotations

from http.cookies import SimpleCookie
from typing import Any

import pytest

from intrablog.devstack.slapd import Slapd
from tests.support.app_fixtures import Api


def _comparable(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "request_id"}


async def test_right_password_gives_token_cookie_and_me(api: Api) -> None:
    response = await api.client.post("/api/v1/login", json={"username": "alice", "password": "alice-pass"})
    assert response.status == 200
    body = await response.json()
    assert body["user"]["username"] == "alice"
    assert body["user"]["display_name"] == "Alice Archer"
    assert body["user"]["email"] == "alice@example.com"
    assert body["user"]["xmpp_address"] == "alice@example.com"
    assert body["user"]["is_site_admin"] is True
    assert len(body["token"]) >= 40

    cookies = SimpleCookie()
    for header in response.headers.getall("Set-Cookie"):
        cookies.load(header)
    session = cookies["intrablog_session"]
    assert session.value == body["token"]
    assert session["httponly"] is True
    assert session["samesite"] == "Lax"
    assert cookies["intrablog_session_csrf"].value == body["csrf_token"]

    me = await api.client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert (await me.json())["username"] == "alice"


async def test_wrong_password_and_unknown_user_are_indistinguishable(api: Api) -> None:
    wrong = await api.client.post("/api/v1/login", json={"username": "alice", "password": "nope"})
    unknown = await api.client.post("/api/v1/login", json={"username": "mallory", "password": "nope"})
    assert wrong.status == unknown.status == 401
    assert wrong.content_type == unknown.content_type == "application/problem+json"
    assert _comparable(await wrong.json(content_type=None)) == _comparable(await unknown.json(content_type=None))
    assert "Set-Cookie" not in wrong.headers


@pytest.mark.parametrize("password", ["", " ", "\t\n ", "\u3000"])
async def test_blank_password_is_refused_before_any_bind(api: Api, slapd: Slapd, password: str) -> None:
    before = slapd.bind_count()
    response = await api.client.post("/api/v1/login", json={"username": "alice", "password": password})
    assert response.status == 401
    assert slapd.bind_count() == before, "a bind reached the directory"


@pytest.mark.parametrize("username", ["", "   ", "\t"])
async def test_blank_username_is_refused_before_any_bind(api: Api, slapd: Slapd, username: str) -> None:
    before = slapd.bind_count()
    response = await api.client.post("/api/v1/login", json={"username": username, "password": "alice-pass"})
    assert response.status == 401
    assert slapd.bind_count() == before


@pytest.mark.parametrize(
    "username", ["*", ")(uid=*", "*)(uid=alice", "alice)(|(uid=*", "\x00", "alice\x00", "a" * 10_000, "\ud800"]
)
async def test_hostile_usernames_never_sign_anyone_in(api: Api, username: str) -> None:
    response = await api.client.post("/api/v1/login", json={"username": username, "password": "alice-pass"})
    assert response.status in (401, 422)
    assert "token" not in await response.json(content_type=None)


async def test_non_utf8_body_is_422(api: Api) -> None:
    raw = b'{"username": "al\xffice", "password": "alice-pass"}'
    response = await api.client.post("/api/v1/login", data=raw, headers={"Content-Type": "application/json"})
    assert response.status == 422
    assert (await response.json(content_type=None))["errors"][0]["field"] == "body"


async def test_cookie_session_needs_csrf_for_changes_and_logout_revokes(api: Api) -> None:
    login = await api.client.post("/api/v1/login", json={"username": "bob", "password": "bob-pass"})
    body = await login.json()
    # The test client keeps the cookies, like a browser.
    me = await api.client.get("/api/v1/me")
    assert me.status == 200
    forged = await api.client.post("/api/v1/channels/engineering/follow")
    assert forged.status == 403
    assert "X-CSRF-Token" in (await forged.json(content_type=None))["detail"]
    allowed = await api.client.post("/api/v1/channels/engineering/follow", headers={"X-CSRF-Token": body["csrf_token"]})
    assert allowed.status == 200
    out = await api.client.post("/api/v1/logout", headers={"X-CSRF-Token": body["csrf_token"]})
    assert out.status == 204
    api.client.session.cookie_jar.clear()
    revoked = await api.client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert revoked.status == 401
    assert revoked.headers["WWW-Authenticate"].startswith("Bearer")


async def test_requests_without_or_with_bad_credentials_are_401(api: Api) -> None:
    assert (await api.client.get("/api/v1/timeline/home")).status == 401
    bad = await api.client.get("/api/v1/me", headers={"Authorization": "Bearer not-a-token"})
    assert bad.status == 401
    basic = await api.client.get("/api/v1/me", headers={"Authorization": "Basic YWxpY2U6YWxpY2UtcGFzcw=="})
    assert basic.status == 401
    assert (await api.client.get("/api/v1/openapi.json", headers={"Authorization": "Bearer stale"})).status == 200


async def test_every_response_has_a_request_id(api: Api) -> None:
    ok = await api.client.get("/api/v1/openapi.json", headers={"X-Request-ID": "trace-123"})
    assert ok.headers["X-Request-ID"] == "trace-123"
    missing = await api.client.get("/api/v1/nowhere")
    assert missing.status == 404
    assert missing.content_type == "application/problem+json"
    assert (await missing.json(content_type=None))["request_id"] == missing.headers["X-Request-ID"]
