"""Issue 6, item 4, acceptance 1 and 2, on the `make run` stack itself (the launcher on free ports).

carol posts an announcement that requires acknowledgement; alice, bob and dave get it on the web and on IM;
bob acknowledges by answering ``ack`` on IM, alice with the web button (a real Chromium against the stack's
web port, signing in with the form); carol's report shows alice and bob acknowledged and dave not, by
department, as JSON and as CSV. Then dave, who is no poster, is refused posting to announcements (API and
IM) and leaving it.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import signal
import urllib.error
import urllib.request
from typing import Any

from playwright.async_api import async_playwright, expect

from tests.support.browser_fixtures import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS
from tests.support.launcher import Launcher, post_json
from tests.support.xmpp_client import ImClient, ReceivedMessage

BOT = "blog.example.com"
ANNOUNCEMENTS = "announcements@blog.example.com"
# From the API post to each IM client; generous for a loaded 2-CPU machine (the relay takes ~15 ms).
DEADLINE_S = 3.0
NOTICE = "Office closed on Monday: the heating is being replaced"
ACK_HINT = "Reply ack to acknowledge."
READERS = ("alice", "bob", "dave")


def _call(launcher: Launcher, method: str, path: str, token: str, body: dict[str, Any] | None = None) -> Any:
    """(status, body: parsed JSON, or text for anything else) of an API call with a bearer token."""
    request = urllib.request.Request(  # noqa: S310 - the stack's own http:// URL
        f"{launcher.web_url}{path}",
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method=method,
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, response.headers.get_content_type(), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get_content_type(), exc.read().decode()


async def _api(launcher: Launcher, method: str, path: str, token: str, body: dict[str, Any] | None = None) -> Any:
    status, kind, text = await asyncio.to_thread(_call, launcher, method, path, token, body)
    assert 200 <= status < 300, f"{method} {path}: {status} {text}"
    return json.loads(text) if kind == "application/json" else text


async def _sign_in_everyone(launcher: Launcher) -> dict[str, str]:
    """Tokens of the four demo users; signing in once is also what makes intrablog know them."""
    tokens = {}
    for name in ("alice", "bob", "carol", "dave"):
        status, login = await asyncio.to_thread(
            post_json, f"{launcher.web_url}/api/v1/login", {"username": name, "password": f"{name}-pass"}
        )
        assert status == 200, login
        tokens[name] = login["token"]
    return tokens


async def _acknowledge_with_the_button(launcher: Launcher, post_id: str) -> None:
    """alice signs in with the form, finds the announcement on her home page and presses Acknowledge."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(base_url=launcher.web_url)
            page.set_default_timeout(10_000)
            await page.goto("/login")
            await page.get_by_label("Username").fill("alice")
            await page.get_by_label("Password").fill("alice-pass")
            await page.get_by_role("button", name="Sign in").click()
            await expect(page.get_by_role("heading", name="Home", level=1)).to_be_visible()
            card = page.locator(f'article[data-post-id="{post_id}"]')
            await expect(card.locator(".badge")).to_have_text(["Please acknowledge"])
            await card.get_by_role("button", name=re.compile("^Acknowledge")).click()
            await expect(page.locator(f'article[data-post-id="{post_id}"] .acknowledged')).to_have_text(
                "Acknowledged just now"
            )
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(SCREENSHOTS / "devstack-alice-acknowledged.png"), full_page=True)
        finally:
            await browser.close()


async def _scenario(launcher: Launcher) -> None:
    tokens = await _sign_in_everyone(launcher)
    port = launcher.xmpp_client_port
    async with (
        ImClient("alice@example.com", "alice-pass", "127.0.0.1", port) as alice,
        ImClient("bob@example.com", "bob-pass", "127.0.0.1", port) as bob,
        ImClient("dave@example.com", "dave-pass", "127.0.0.1", port) as dave,
    ):
        readers = {"alice": alice, "bob": bob, "dave": dave}
        for client in readers.values():
            await client.connect(timeout=10)

        post = await _api(
            launcher,
            "POST",
            "/api/v1/posts",
            tokens["carol"],
            {"text": NOTICE, "channel": "announcements", "requires_ack": True},
        )
        assert post["requires_ack"] is True
        link = f"/posts/{post['id']}"
        received: dict[str, ReceivedMessage] = {}
        for name, client in readers.items():
            message = await client.next_message(timeout=DEADLINE_S)
            assert message.sender == ANNOUNCEMENTS, (name, message)
            assert message.origin_id == f"post-{post['id']}", (name, message)
            assert message.body.startswith(f"carol: {NOTICE}\n"), (name, message)
            assert link in message.body
            assert message.body.endswith(f"\n{ACK_HINT}"), (name, message)
            received[name] = message
        for name in READERS:  # and on the web: the newest post of each one's home timeline
            home = await _api(launcher, "GET", "/api/v1/timeline/home?limit=1", tokens[name])
            assert [item["id"] for item in home] == [post["id"]], name

        # bob answers "ack" to the announcement in his client (XEP-0461, quoting it as XEP-0428 fallback).
        announcement = received["bob"]
        bob.send(
            ANNOUNCEMENTS,
            "ack",
            reply_to_id=announcement.id,
            reply_to_jid=announcement.from_,
            reply_fallback=announcement.body,
        )
        answer = await bob.next_message(timeout=5)
        assert (answer.sender, answer.body) == (ANNOUNCEMENTS, f"Acknowledged: {NOTICE}")

        await _acknowledge_with_the_button(launcher, post["id"])

        report = await _api(launcher, "GET", f"/api/v1/posts/{post['id']}/acks", tokens["carol"])
        assert [(a["username"], a["department"], a["via"]) for a in report["acknowledged"]] == [
            ("bob", "Engineering", "im"),
            ("alice", "Engineering", "web"),
        ]
        assert [(p["username"], p["department"]) for p in report["pending"]] == [("dave", "Sales")]
        assert report["by_department"] == [
            {"department": "Engineering", "acknowledged": 2, "pending": 0},
            {"department": "Sales", "acknowledged": 0, "pending": 1},
        ]
        table = await _api(launcher, "GET", f"/api/v1/posts/{post['id']}/acks.csv", tokens["carol"])
        rows = list(csv.DictReader(io.StringIO(table)))
        assert [(row["username"], row["department"], row["status"]) for row in rows] == [
            ("bob", "Engineering", "acknowledged"),
            ("alice", "Engineering", "acknowledged"),
            ("dave", "Sales", "pending"),
        ]
        assert all(row["acknowledged_at"] for row in rows[:2])

        await _dave_is_only_a_reader(launcher, tokens["dave"], dave)
        # Nobody heard anything else: not alice her web acknowledgement, not dave bob's.
        await alice.expect_silence(0.3)
        await dave.expect_silence(0.1)


async def _dave_is_only_a_reader(launcher: Launcher, token: str, dave: ImClient) -> None:
    """Acceptance 2: no poster role, so no post to announcements (API and IM), and no leaving it."""
    status, kind, problem = await asyncio.to_thread(
        _call, launcher, "POST", "/api/v1/posts", token, {"text": "hi all", "channel": "announcements"}
    )
    assert (status, kind) == (403, "application/problem+json"), problem
    assert json.loads(problem)["status"] == 403
    dave.send(ANNOUNCEMENTS, "Free cake in the kitchen")
    refused = await dave.next_message(timeout=5)
    assert (refused.sender, refused.body) == (ANNOUNCEMENTS, "Not allowed: you may not post in 'announcements'.")
    dave.send(BOT, "leave announcements")
    kept = await dave.next_message(timeout=5)
    assert (kept.sender, kept.body) == (
        BOT,
        "Not allowed: announcements is an announcement channel: it reaches everyone and cannot be left.",
    )
    status, kind, problem = await asyncio.to_thread(
        _call, launcher, "DELETE", "/api/v1/channels/announcements/follow", token
    )
    assert (status, kind) == (403, "application/problem+json"), problem
    posts = await _api(launcher, "GET", "/api/v1/channels/announcements/posts", token)
    assert "Free cake in the kitchen" not in [p["text"] for p in posts]


def test_announcement_acknowledged_on_im_and_web_reported_by_department(launcher: Launcher) -> None:
    launcher.start()
    launcher.wait_until_up()
    asyncio.run(_scenario(launcher))
    assert launcher.stop_with(signal.SIGINT) == 0, launcher.text()
