"""Posting, following, replying and deleting through the JSON API (acceptance: issue 3, item 4)."""

from __future__ import annotations

from tests.support.app_fixtures import Api


async def test_follower_sees_post_first_and_thread_keeps_order(api: Api) -> None:
    await api.login("alice")
    await api.login("bob")
    post = await api.post(
        "alice", "Release train leaves Friday #launch @bob see https://example.com/plan.", "engineering"
    )
    assert post["channel"] == "engineering"
    assert post["author"] == {"username": "alice", "display_name": "Alice Archer"}
    assert post["mentions"] == ["bob"]
    assert post["tags"] == ["launch"]
    assert post["links"] == ["https://example.com/plan"]
    assert post["url"] == f"http://intrablog.test/posts/{post['id']}"
    assert post["in_reply_to"] is None

    followed = await api.json("POST", "/api/v1/channels/engineering/follow", "bob")
    assert followed["following"] is True
    assert followed["my_role"] == "member"

    home = await api.json("GET", "/api/v1/timeline/home", "bob")
    assert home[0]["id"] == post["id"]

    reply = await api.post("bob", "On it.", in_reply_to=post["id"])
    assert reply["channel"] == "engineering"
    assert reply["in_reply_to"] == post["id"]
    thread = await api.json("GET", f"/api/v1/posts/{reply['id']}/thread", "alice")
    assert [p["id"] for p in thread] == [post["id"], reply["id"]]

    mentions = await api.json("GET", "/api/v1/timeline/mentions", "bob")
    assert [p["id"] for p in mentions] == [post["id"]]


async def test_too_long_post_is_422_naming_text(api: Api) -> None:
    await api.login("alice")
    response = await api.call("POST", "/api/v1/posts", "alice", json={"text": "x" * 281, "channel": "engineering"})
    assert response.status == 422
    assert response.content_type == "application/problem+json"
    body = await response.json(content_type=None)
    assert body["status"] == 422
    assert [e["field"] for e in body["errors"]] == ["text"]
    assert "280" in body["errors"][0]["reason"]
    # Exactly the limit is fine, counted in code points after NFC ("e" + combining acute = one "é").
    await api.post("alice", "e\u0301" * 280, "engineering")
    channel_posts = await api.json("GET", "/api/v1/channels/engineering/posts", "alice")
    assert len(channel_posts) == 1


async def test_blank_and_malformed_bodies_are_422_with_fields(api: Api) -> None:
    await api.login("alice")
    blank = await api.call("POST", "/api/v1/posts", "alice", json={"text": "   "})
    assert blank.status == 422
    assert (await blank.json(content_type=None))["errors"][0]["field"] == "text"
    broken = await api.call(
        "POST", "/api/v1/posts", "alice", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert broken.status == 422
    assert (await broken.json(content_type=None))["errors"][0]["field"] == "body"
    missing = await api.call("POST", "/api/v1/posts", "alice", json={"channel": "engineering"})
    assert (await missing.json(content_type=None))["errors"][0]["field"] == "text"


async def test_private_channel_is_invisible_to_non_members(api: Api) -> None:
    await api.login("alice")
    await api.login("bob")
    created = await api.json(
        "POST",
        "/api/v1/channels",
        "alice",
        status=201,
        json={"name": "board", "title": "Board", "kind": "team", "visibility": "private"},
    )
    assert created["my_role"] == "admin"
    secret = await api.post("alice", "Acquisition talks continue", "board")

    refused = await api.call("POST", "/api/v1/posts", "bob", json={"text": "let me in", "channel": "board"})
    assert refused.status == 404
    missing = await api.call("POST", "/api/v1/posts", "bob", json={"text": "hello", "channel": "no-such"})
    assert missing.status == 404
    for path in ("/api/v1/channels/board", "/api/v1/channels/board/posts", "/api/v1/channels/board/members"):
        assert (await api.call("GET", path, "bob")).status == 404, path
    assert (await api.call("POST", "/api/v1/channels/board/follow", "bob")).status == 404
    assert (await api.call("GET", f"/api/v1/posts/{secret['id']}", "bob")).status == 404
    assert (await api.call("GET", f"/api/v1/posts/{secret['id']}/thread", "bob")).status == 404
    reply = await api.call("POST", "/api/v1/posts", "bob", json={"text": "psst", "in_reply_to": secret["id"]})
    assert reply.status == 422
    names = [c["name"] for c in await api.json("GET", "/api/v1/channels", "bob")]
    assert "board" not in names
    assert "board" in [c["name"] for c in await api.json("GET", "/api/v1/channels", "alice")]
    # Following alice does not leak her private channel into bob's timelines.
    await api.json("POST", "/api/v1/users/alice/follow", "bob")
    assert secret["id"] not in [p["id"] for p in await api.json("GET", "/api/v1/timeline/home", "bob")]
    assert secret["id"] not in [p["id"] for p in await api.json("GET", "/api/v1/users/alice/posts", "bob")]


async def test_deleting_someone_elses_post_is_forbidden(api: Api) -> None:
    await api.login("alice")
    await api.login("bob")
    await api.login("dave")
    post = await api.post("bob", "Lunch at noon?", "engineering")
    # dave is no admin and not the author: 403. alice is a site admin: allowed.
    assert (await api.call("DELETE", f"/api/v1/posts/{post['id']}", "dave")).status == 403
    assert (await api.call("GET", f"/api/v1/posts/{post['id']}", "dave")).status == 200
    assert (await api.call("DELETE", f"/api/v1/posts/{post['id']}", "bob")).status == 204
    assert (await api.call("GET", f"/api/v1/posts/{post['id']}", "bob")).status == 404
    assert (await api.call("DELETE", f"/api/v1/posts/{post['id']}", "bob")).status == 404

    await api.json(
        "POST",
        "/api/v1/channels",
        "bob",
        status=201,
        json={"name": "bobs-den", "title": "Den", "visibility": "private"},
    )
    hidden = await api.post("bob", "private note", "bobs-den")
    # Invisible to dave: 404, exactly as if it did not exist.
    assert (await api.call("DELETE", f"/api/v1/posts/{hidden['id']}", "dave")).status == 404


async def test_personal_updates_reach_followers_and_profile(api: Api) -> None:
    await api.login("alice")
    await api.login("bob")
    update = await api.post("alice", "Great quarter, everyone.")
    assert update["channel"] is None
    assert update["id"] not in [p["id"] for p in await api.json("GET", "/api/v1/timeline/home", "bob")]
    profile = await api.json("POST", "/api/v1/users/alice/follow", "bob")
    assert profile["followed_by_me"] is True
    assert profile["followers"] == 1
    assert profile["display_name"] == "Alice Archer"
    assert (await api.json("GET", "/api/v1/timeline/home", "bob"))[0]["id"] == update["id"]
    assert (await api.json("GET", "/api/v1/users/alice/posts", "bob"))[0]["id"] == update["id"]
    selfie = await api.call("POST", "/api/v1/users/bob/follow", "bob")
    assert selfie.status == 422
    unfollowed = await api.json("DELETE", "/api/v1/users/alice/follow", "bob")
    assert unfollowed["followed_by_me"] is False
    assert (await api.call("GET", "/api/v1/users/nobody-here", "bob")).status == 404


async def test_announcement_channel_needs_poster_role(api: Api) -> None:
    for name in ("alice", "carol", "dave"):
        await api.login(name)
    denied = await api.call("POST", "/api/v1/posts", "dave", json={"text": "hi all", "channel": "announcements"})
    assert denied.status == 403
    assert denied.content_type == "application/problem+json"
    notice = await api.post("carol", "Office closed on Monday", "announcements")
    # Everyone follows the announcement channel from their first sign-in, and cannot leave it.
    assert (await api.json("GET", "/api/v1/timeline/home", "dave"))[0]["id"] == notice["id"]
    assert (await api.call("DELETE", "/api/v1/channels/announcements/follow", "dave")).status == 403
    announcement = await api.call(
        "POST", "/api/v1/channels", "dave", json={"name": "news", "title": "News", "kind": "announcement"}
    )
    assert announcement.status == 403
