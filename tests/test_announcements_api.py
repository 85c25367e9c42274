"""Announcements that ask for acknowledgement, through the JSON API (issue 6, item 4), on SQLite and PostgreSQL
against the session's slapd: departments are the demo directory's (alice and bob Engineering, carol HR, dave
Sales)."""

from __future__ import annotations

import csv
import io
from typing import Any

from aiohttp import ClientResponse

from intrablog.web.keys import SERVICES
from tests.support.app_fixtures import Api

PROBLEM = "application/problem+json"


async def _problem(response: ClientResponse, status: int) -> dict[str, Any]:
    assert response.status == status, await response.text()
    assert response.content_type == PROBLEM
    body: dict[str, Any] = await response.json(content_type=None)
    assert body["status"] == status
    return body


async def _sign_in_everyone(api: Api) -> None:
    for name in ("alice", "bob", "carol", "dave"):
        await api.login(name)


async def _announce(api: Api, text: str = "Office closed on Monday", **flags: Any) -> dict[str, Any]:
    return await api.post("carol", text, "announcements", requires_ack=True, **flags)


async def test_requires_ack_and_urgent_only_on_new_posts_in_announcement_channels(api: Api) -> None:
    await _sign_in_everyone(api)
    notice = await _announce(api, urgent=True)
    assert (notice["requires_ack"], notice["urgent"]) == (True, True)
    assert (await api.json("GET", f"/api/v1/posts/{notice['id']}", "bob"))["requires_ack"] is True
    plain = await api.post("carol", "Cake in the kitchen", "announcements")
    assert (plain["requires_ack"], plain["urgent"]) == (False, False)
    ordinary = await api.post("alice", "Standup moved", "engineering")
    assert (ordinary["requires_ack"], ordinary["urgent"]) == (False, False)

    refused = [
        ({"text": "read me", "channel": "engineering", "requires_ack": True}, ["requires_ack"]),
        ({"text": "read me", "urgent": True}, ["urgent"]),  # a personal update
        ({"text": "read me", "channel": "launch", "requires_ack": True, "urgent": True}, ["requires_ack", "urgent"]),
        ({"text": "ok", "in_reply_to": notice["id"], "requires_ack": True}, ["requires_ack"]),
        ({"text": "ok", "channel": "announcements", "requires_ack": "yes"}, ["requires_ack"]),
        ({"text": "ok", "channel": "announcements", "urgent": 1}, ["urgent"]),
    ]
    for body, fields in refused:
        problem = await _problem(await api.call("POST", "/api/v1/posts", "alice", json=body), 422)
        assert [error["field"] for error in problem["errors"]] == fields, body
    # Nothing refused was stored.
    channel_posts = await api.json("GET", "/api/v1/channels/engineering/posts", "alice")
    assert [post["id"] for post in channel_posts] == [ordinary["id"]]

    # dave is no poster of announcements: 403, with or without the flags.
    for extra in ({}, {"requires_ack": True, "urgent": True}):
        body = {"text": "hi all", "channel": "announcements", **extra}
        problem = await _problem(await api.call("POST", "/api/v1/posts", "dave", json=body), 403)
        assert "announcements" in problem["detail"]


async def test_acknowledging_is_idempotent_and_the_report_groups_by_department(api: Api) -> None:
    await _sign_in_everyone(api)
    notice = await _announce(api)
    path = f"/api/v1/posts/{notice['id']}"
    assert [p["id"] for p in await api.json("GET", "/api/v1/me/acknowledgements/pending", "bob")] == [notice["id"]]

    first = await api.json("POST", f"{path}/ack", "bob")
    assert first == {
        "post_id": notice["id"],
        "username": "bob",
        "display_name": "Bob Baker",
        "department": "Engineering",
        "at": first["at"],
        "via": "web",
    }
    again = await api.json("POST", f"{path}/ack", "bob")
    assert again == first, "a second acknowledgement keeps the first time and door"
    assert await api.json("GET", "/api/v1/me/acknowledgements/pending", "bob") == []
    # alice answers on IM: the door the bridge uses.
    services = api.client.app[SERVICES]
    alice = await services.accounts.authenticate(api.tokens["alice"])
    by_im = await services.announcements.acknowledge(alice, int(notice["id"]), "im")
    assert (by_im.username, by_im.department, by_im.via) == ("alice", "Engineering", "im")
    web_after_im = await api.json("POST", f"{path}/ack", "alice")
    assert web_after_im["via"] == "im"
    # What a page shows next to each post it lists: the reader's own acknowledgements, in one look-up.
    plain = await api.post("carol", "Cake in the kitchen", "announcements")
    mine = await services.announcements.acknowledgements_of(alice, [int(notice["id"]), int(plain["id"]), 12345])
    assert list(mine) == [int(notice["id"])]
    assert (mine[int(notice["id"])].via, mine[int(notice["id"])].at) == (by_im.via, by_im.at)

    report = await api.json("GET", f"{path}/acks", "carol")
    assert report == {
        "post_id": notice["id"],
        "acknowledged": [
            {
                "username": "bob",
                "display_name": "Bob Baker",
                "department": "Engineering",
                "at": first["at"],
                "via": "web",
            },
            {
                "username": "alice",
                "display_name": "Alice Archer",
                "department": "Engineering",
                "at": web_after_im["at"],
                "via": "im",
            },
        ],
        "pending": [{"username": "dave", "display_name": "Dave Dawson", "department": "Sales"}],
        "by_department": [
            {"department": "Engineering", "acknowledged": 2, "pending": 0},
            {"department": "Sales", "acknowledged": 0, "pending": 1},
        ],
    }
    # carol wrote it: she is not asked, and cannot acknowledge her own announcement.
    own = await _problem(await api.call("POST", f"{path}/ack", "carol"), 409)
    assert "own announcement" in own["detail"]
    assert await api.json("GET", "/api/v1/me/acknowledgements/pending", "carol") == []
    dave_pending = await api.json("GET", "/api/v1/me/acknowledgements/pending", "dave")
    assert [(p["id"], p["requires_ack"]) for p in dave_pending] == [(notice["id"], True)]


async def test_posts_that_do_not_ask_and_posts_that_do_not_exist(api: Api) -> None:
    await _sign_in_everyone(api)
    plain = await api.post("carol", "Cake in the kitchen", "announcements")
    for method, suffix in (("POST", "ack"), ("GET", "acks"), ("GET", "acks.csv")):
        problem = await _problem(await api.call(method, f"/api/v1/posts/{plain['id']}/{suffix}", "carol"), 409)
        assert problem["detail"] == f"post {plain['id']} does not ask for acknowledgement"
        missing = f"/api/v1/posts/9999999999/{suffix}"
        await _problem(await api.call(method, missing, "carol"), 404)
    notice = await _announce(api)
    await api.json("DELETE", f"/api/v1/posts/{notice['id']}", "carol", status=204)
    await _problem(await api.call("POST", f"/api/v1/posts/{notice['id']}/ack", "bob"), 404)
    assert await api.json("GET", "/api/v1/me/acknowledgements/pending", "bob") == []


async def test_only_the_author_posters_and_admins_see_the_report(api: Api) -> None:
    await _sign_in_everyone(api)
    notice = await _announce(api)
    for reader in ("bob", "dave"):  # members of the announcement channel, not posters
        for suffix in ("acks", "acks.csv"):
            problem = await _problem(await api.call("GET", f"/api/v1/posts/{notice['id']}/{suffix}", reader), 403)
            assert "posters" in problem["detail"]
    # alice is a site admin and a poster; carol the author.
    for reader in ("alice", "carol"):
        assert len((await api.json("GET", f"/api/v1/posts/{notice['id']}/acks", reader))["pending"]) == 3


async def test_a_private_channel_post_is_not_found_for_outsiders(api: Api) -> None:
    await _sign_in_everyone(api)
    body = {"name": "board", "title": "Board", "visibility": "private"}
    await api.json("POST", "/api/v1/channels", "bob", status=201, json=body)
    secret = await api.post("bob", "Acquisition talks continue", "board")
    for method, suffix in (("POST", "ack"), ("GET", "acks"), ("GET", "acks.csv")):
        url = f"/api/v1/posts/{secret['id']}/{suffix}"
        problem = await _problem(await api.call(method, url, "dave"), 404)
        assert problem["detail"] == f"no post {secret['id']}", "the same answer as a post that does not exist"
        # Its own member hears the truth: it does not ask for acknowledgement.
        await _problem(await api.call(method, url, "bob"), 409)


async def test_the_report_as_csv(api: Api) -> None:
    await _sign_in_everyone(api)
    notice = await _announce(api)
    acked = await api.json("POST", f"/api/v1/posts/{notice['id']}/ack", "bob")
    response = await api.call("GET", f"/api/v1/posts/{notice['id']}/acks.csv", "carol")
    assert response.status == 200, await response.text()
    assert response.content_type == "text/csv"
    assert response.charset == "utf-8"
    assert response.headers["Content-Disposition"] == f'attachment; filename="acknowledgements-{notice["id"]}.csv"'
    text = await response.text()
    assert text.splitlines()[0] == "username,display_name,department,status,acknowledged_at"
    rows = list(csv.DictReader(io.StringIO(text)))
    acked_at = rows[0].pop("acknowledged_at")
    assert rows == [
        {"username": "bob", "display_name": "Bob Baker", "department": "Engineering", "status": "acknowledged"},
        {
            "username": "alice",
            "display_name": "Alice Archer",
            "department": "Engineering",
            "status": "pending",
            "acknowledged_at": "",
        },
        {
            "username": "dave",
            "display_name": "Dave Dawson",
            "department": "Sales",
            "status": "pending",
            "acknowledged_at": "",
        },
    ]
    # The same instant as the JSON says (which pydantic writes with "Z").
    assert acked_at.replace("+00:00", "Z") == acked["at"]


async def test_acknowledging_with_the_session_cookie_needs_the_csrf_token(api: Api) -> None:
    await _sign_in_everyone(api)
    notice = await _announce(api)
    login = await api.client.post("/api/v1/login", json={"username": "dave", "password": "dave-pass"})
    csrf = (await login.json())["csrf_token"]
    url = f"/api/v1/posts/{notice['id']}/ack"
    await _problem(await api.client.post(url), 403)  # the cookie alone
    report = await api.json("GET", f"/api/v1/posts/{notice['id']}/acks", "carol")
    assert "dave" in [person["username"] for person in report["pending"]], "the refused request changed nothing"
    accepted = await api.client.post(url, headers={"X-CSRF-Token": csrf})
    assert accepted.status == 200, await accepted.text()
    assert (await accepted.json())["username"] == "dave"
