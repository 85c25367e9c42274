"""Issue 4, acceptance 1, on the `make run` stack itself (launcher on free ports): follow from an ordinary
XMPP client, a web post reaches IM, an IM reply becomes a post in the thread, nobody gets an echo."""

from __future__ import annotations

import asyncio
import json
import signal
import urllib.request
from typing import Any

from tests.support.launcher import Launcher, post_json
from tests.support.xmpp_client import ImClient, ReceivedMessage

BOT = "blog.example.com"
ENGINEERING = "engineering@blog.example.com"
DEADLINE_S = 2.0


def _api(launcher: Launcher, method: str, path: str, token: str) -> Any:
    request = urllib.request.Request(  # noqa: S310 - the stack's own http:// URL
        f"{launcher.web_url}{path}", headers={"Authorization": f"Bearer {token}"}, method=method
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return json.loads(response.read())


async def _command(client: ImClient, text: str) -> ReceivedMessage:
    client.send(BOT, text)
    answer = await client.next_message(timeout=5)
    assert answer.sender == BOT, answer
    return answer


async def _scenario(launcher: Launcher) -> None:
    status, login = await asyncio.to_thread(
        post_json, f"{launcher.web_url}/api/v1/login", {"username": "alice", "password": "alice-pass"}
    )
    assert status == 200, login
    alice_token = login["token"]
    port = launcher.xmpp_client_port
    async with (
        ImClient("bob@example.com", "bob-pass", "127.0.0.1", port) as bob,
        ImClient("alice@example.com", "alice-pass", "127.0.0.1", port) as alice,
    ):
        await bob.connect(timeout=10)
        await alice.connect(timeout=10)
        # bob is unknown to intrablog until he has signed in once; the bridge maps his JID through the
        # directory's template, so signing in on the web first is what a new employee does.
        status, _ = await asyncio.to_thread(
            post_json, f"{launcher.web_url}/api/v1/login", {"username": "bob", "password": "bob-pass"}
        )
        assert status == 200
        assert "engineering" in (await _command(bob, "follow engineering")).body.lower()
        assert "engineering" in (await _command(alice, "follow engineering")).body.lower()

        status, post = await asyncio.to_thread(
            _post_with_token, launcher, alice_token, {"text": "Ship it on Friday", "channel": "engineering"}
        )
        assert status == 201, post
        received = await bob.next_message(timeout=DEADLINE_S)
        assert received.sender == ENGINEERING
        assert received.body.startswith("alice: Ship it on Friday")
        assert received.origin_id == f"post-{post['id']}"

        bob.send(
            ENGINEERING,
            "Friday works for us",
            reply_to_id=received.stanza_id or received.origin_id,
            reply_to_jid=received.from_,
        )
        echoed = await alice.next_message(timeout=5)
        assert echoed.sender == ENGINEERING
        # A reply carries an XEP-0428 fallback line quoting what it answers, for clients without XEP-0461.
        assert "bob: Friday works for us" in echoed.body.splitlines()
        assert echoed.reply_to == f"post-{post['id']}"
        await bob.expect_silence(1.0)  # no echo of his own reply

        thread = await asyncio.to_thread(_api, launcher, "GET", f"/api/v1/posts/{post['id']}/thread", alice_token)
        assert [p["author"]["username"] for p in thread] == ["alice", "bob"]
        assert thread[1]["in_reply_to"] == post["id"]
        assert thread[1]["channel"] == "engineering"
        assert echoed.origin_id == f"post-{thread[1]['id']}"


def _post_with_token(launcher: Launcher, token: str, body: dict[str, Any]) -> tuple[int, Any]:
    request = urllib.request.Request(  # noqa: S310 - the stack's own http:// URL
        f"{launcher.web_url}/api/v1/posts",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return response.status, json.loads(response.read())


def test_im_follow_post_reply_round_trip_on_the_dev_stack(launcher: Launcher) -> None:
    launcher.start()
    launcher.wait_until_up()
    asyncio.run(_scenario(launcher))
    assert launcher.stop_with(signal.SIGINT) == 0, launcher.text()
