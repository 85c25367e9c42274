"""The live stream without a browser: pushes, Last-Event-ID resume, read rights, cleanup of dead streams.

Streams are read as raw Server-Sent Events from the whole application (slapd, SQLite and PostgreSQL).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, replace
from typing import Any

import pytest
from aiohttp import ClientResponse, ClientSession, web

from intrablog.config import Settings
from intrablog.runtime import build_app
from intrablog.web.live import LIVE_HUB
from intrablog.web.live_hub import LiveHub
from tests.support.app_fixtures import Api
from tests.support.live_server import live_server
from tests.support.sse import next_fields

WAIT_S = 5.0


@dataclass(frozen=True)
class Event:
    kind: str
    id: str | None
    data: dict[str, Any]


class EventReader:
    """Reads one SSE response event by event (comments and the retry hint are skipped)."""

    def __init__(self, response: ClientResponse) -> None:
        assert response.status == 200, response.status
        assert response.content_type == "text/event-stream"
        self.response = response

    async def next(self, within: float = WAIT_S) -> Event:
        while True:
            fields = await next_fields(self.response.content, within)
            if "data" in fields:
                return Event(fields.get("event", "message"), fields.get("id"), json.loads(fields["data"]))

    async def posts(self, count: int) -> list[Event]:
        events: list[Event] = []
        while len(events) < count:
            event = await self.next()
            if event.kind == "post":
                events.append(event)
        return events

    async def nothing_within(self, seconds: float) -> None:
        try:
            event = await self.next(within=seconds)
        except TimeoutError:
            return
        pytest.fail(f"unexpected event {event}")

    def close(self) -> None:
        self.response.close()


async def _open(api: Api, path: str, as_user: str, last_event_id: str | None = None) -> EventReader:
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    return EventReader(await api.call("GET", path, as_user, headers=headers))


def _hub(api: Api) -> LiveHub:
    app = api.client.app
    assert app is not None
    return app[LIVE_HUB]


async def _until(condition: Any, what: str) -> None:
    for _ in range(int(WAIT_S / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    pytest.fail(f"timed out waiting for {what}")


async def test_a_post_reaches_each_open_page_that_shows_it_in_order_once(api: Api) -> None:
    for user in ("alice", "bob", "carol"):
        await api.login(user)
    channel = await _open(api, "/live/channels/engineering", "bob")
    person = await _open(api, "/live/users/alice", "carol")
    mentions = await _open(api, "/live/mentions", "bob")
    await _until(lambda: _hub(api).stream_count == 3, "three streams")
    made = [await api.post("alice", f"post {n} for @bob", channel="engineering") for n in range(3)]
    for stream in (channel, person, mentions):
        events = await stream.posts(3)
        assert [event.data["id"] for event in events] == [post["id"] for post in made]
        assert [event.id for event in events] == [post["id"] for post in made], "event ids are post ids"
        assert f'data-post-id="{made[0]["id"]}"' in events[0].data["html"]
        await stream.nothing_within(0.2)
    thread = await _open(api, f"/live/posts/{made[0]['id']}", "carol")
    reply = await api.post("bob", "a reply", in_reply_to=made[0]["id"])
    assert [event.data["id"] for event in await thread.posts(1)] == [reply["id"]]
    assert [event.data["id"] for event in await channel.posts(1)] == [reply["id"]]


async def test_reconnect_with_last_event_id_catches_up_each_missed_post_once(api: Api) -> None:
    await api.login("alice")
    await api.login("bob")
    first = await _open(api, "/live/channels/engineering", "bob")
    seen = await api.post("alice", "seen live", channel="engineering")
    (event,) = await first.posts(1)
    first.close()
    await _until(lambda: _hub(api).stream_count == 0, "the closed stream to go")
    missed = [await api.post("alice", f"missed {n}", channel="engineering") for n in range(2)]
    resumed_before = _hub(api).stats.resumed

    again = await _open(api, "/live/channels/engineering", "bob", last_event_id=event.id)
    later = await api.post("alice", "after the reconnect", channel="engineering")
    ids: list[str] = []
    while len([post_id for post_id in ids if post_id != seen["id"]]) < 3:
        ids += [e.data["id"] for e in await again.posts(1)]
    # The resume margin may repeat what the page already had (the page shows it once); nothing else repeats.
    assert [post_id for post_id in ids if post_id != seen["id"]] == [missed[0]["id"], missed[1]["id"], later["id"]]
    assert ids.count(seen["id"]) <= 1
    assert _hub(api).stats.resumed == resumed_before + 1
    await again.nothing_within(0.2)


async def test_resume_margin_zero_repeats_nothing(api: Api) -> None:
    hub = _hub(api)
    hub.settings = replace(hub.settings, live_resume_margin_ms=0)
    await api.login("alice")
    await api.login("bob")
    stream = await _open(api, "/live/home", "alice")
    seen = await api.post("alice", "mine")
    (event,) = await stream.posts(1)
    stream.close()
    missed = await api.post("alice", "while away")
    again = await _open(api, "/live/home", "alice", last_event_id=event.id)
    assert [e.data["id"] for e in await again.posts(1)] == [missed["id"]]
    await again.nothing_within(0.2)
    assert seen["id"] != missed["id"]


async def test_private_channel_posts_never_reach_other_readers(api: Api) -> None:
    for user in ("alice", "bob", "dave"):
        await api.login(user)
    await api.json(
        "POST",
        "/api/v1/channels",
        "alice",
        status=201,
        json={"name": "board", "title": "Board", "visibility": "private"},
    )
    await api.json("POST", "/api/v1/users/alice/follow", "dave")
    dave_person = await _open(api, "/live/users/alice", "dave")
    dave_home = await _open(api, "/live/home", "dave")
    alice_home = await _open(api, "/live/home", "alice")
    secret = await api.post("alice", "board only", channel="board")
    public = await api.post("alice", "for everyone", channel="engineering")
    update = await api.post("alice", "a personal update")
    assert [e.data["id"] for e in await dave_person.posts(2)] == [public["id"], update["id"]]
    # Dave follows alice: her posts wherever dave may read them, never the private channel's.
    assert [e.data["id"] for e in await dave_home.posts(2)] == [public["id"], update["id"]]
    assert [e.data["id"] for e in await alice_home.posts(3)] == [secret["id"], public["id"], update["id"]]
    # Catching up from storage applies the same rights.
    resumed = await _open(api, "/live/users/alice", "dave", last_event_id=str(int(secret["id"]) - 1))
    assert [e.data["id"] for e in await resumed.posts(2)] == [public["id"], update["id"]]
    assert (await api.call("GET", "/live/channels/board", "dave")).status == 404
    assert (await api.call("GET", f"/live/posts/{secret['id']}", "dave")).status == 404


async def test_following_takes_effect_on_an_open_home_stream(api: Api) -> None:
    for user in ("bob", "carol"):
        await api.login(user)
    home = await _open(api, "/live/home", "bob")
    await api.post("carol", "before the follow")
    await home.nothing_within(0.3)
    await api.json("POST", "/api/v1/users/carol/follow", "bob")
    after = await api.post("carol", "after the follow")
    assert [e.data["id"] for e in await home.posts(1)] == [after["id"]]


async def _send_message(api: Api, sender: str, recipient: str, text: str) -> str:
    """Send a direct message through the conversation page's form, as ``sender`` signed in by cookie."""
    response = await api.client.post("/api/v1/login", json={"username": sender, "password": f"{sender}-pass"})
    csrf = (await response.json())["csrf_token"]
    sent = await api.client.post(
        f"/messages/{recipient}", data={"text": text, "csrf_token": csrf}, allow_redirects=False
    )
    assert sent.status == 303, await sent.text()
    return sent.headers["Location"].rsplit("-", 1)[1]


async def test_direct_messages_reach_only_their_conversation_and_resume(api: Api) -> None:
    for user in ("alice", "bob", "carol"):
        await api.login(user)
    alice = await _open(api, "/live/messages/bob", "alice")
    carol = await _open(api, "/live/messages/bob", "carol")
    first = await _send_message(api, "bob", "alice", "just between us")
    event = await alice.next()
    assert (event.kind, event.id, event.data["id"]) == ("message", first, first)
    assert "just between us" in event.data["html"]
    await carol.nothing_within(0.3)
    alice.close()
    missed = await _send_message(api, "bob", "alice", "while you were away")
    resumed = await _open(api, "/live/messages/bob", "alice", last_event_id=first)
    ids: list[str] = []
    while missed not in ids:
        ids.append((await resumed.next()).data["id"])
    assert ids in ([missed], [first, missed]), "the resume margin may repeat the first message, nothing else"
    assert (await api.call("GET", "/live/messages/alice", "alice")).status == 404


async def test_deletions_are_pushed_to_readers(api: Api) -> None:
    await api.login("alice")
    await api.login("bob")
    stream = await _open(api, "/live/channels/engineering", "bob")
    post = await api.post("alice", "short-lived", channel="engineering")
    await stream.posts(1)
    await api.json("DELETE", f"/api/v1/posts/{post['id']}", "alice", status=204)
    event = await stream.next()
    assert (event.kind, event.data) == ("delete", {"id": post["id"]})


def _quick_heartbeat_app(settings: Settings) -> web.Application:
    app = build_app(settings)
    hub = app[LIVE_HUB]
    hub.settings = replace(hub.settings, live_heartbeat_seconds=0.1)
    return app


async def test_dead_streams_are_found_by_the_heartbeat_and_dropped(app_settings: Settings) -> None:
    # A real runner, like `intrablog serve`: aiohttp does not cancel a handler whose client has gone
    # (the test server does), so only the hub's own writes can notice the dead connections.
    built: list[web.Application] = []

    def build() -> web.Application:
        built.append(_quick_heartbeat_app(app_settings))
        return built[0]

    with live_server(build) as server:
        hub = built[0][LIVE_HUB]
        async with ClientSession(server.base_url) as session:
            login = await session.post("/api/v1/login", json={"username": "bob", "password": "bob-pass"})
            token = (await login.json())["token"]
            auth = {"Authorization": f"Bearer {token}"}
            streams = [
                EventReader(await session.get(path, headers=auth))
                for path in ("/live/home", "/live/channels/engineering", "/live/mentions")
            ]
            await _until(lambda: hub.stream_count == 3, "three streams")
            beat = await asyncio.wait_for(streams[0].response.content.readuntil(b"keep-alive\n\n"), WAIT_S)
            assert beat.endswith(b": keep-alive\n\n")
            for stream in streams:
                stream.close()
            await _until(lambda: hub.stream_count == 0, "the heartbeat to find the dead streams")
            assert hub.stats.dropped == 3


async def test_a_closed_page_leaves_the_hub_at_once_on_the_test_server(api: Api) -> None:
    await api.login("bob")
    stream = await _open(api, "/live/home", "bob")
    await _until(lambda: _hub(api).stream_count == 1, "the stream")
    stream.close()
    await _until(lambda: _hub(api).stream_count == 0, "the stream to go")


async def test_signing_out_ends_the_sessions_streams(api: Api) -> None:
    response = await api.client.post("/api/v1/login", json={"username": "bob", "password": "bob-pass"})
    csrf = (await response.json())["csrf_token"]
    stream = EventReader(await api.client.get("/live/home"))  # authenticated by the session cookie
    await _until(lambda: _hub(api).stream_count == 1, "the stream")
    out = await api.client.post("/logout", data={"csrf_token": csrf}, allow_redirects=False)
    assert out.status == 303
    assert out.headers["Location"] == "/login"
    await _until(lambda: _hub(api).stream_count == 0, "the stream to end")
    await asyncio.wait_for(stream.response.content.read(), WAIT_S)  # the response has ended
    assert stream.response.content.at_eof()
