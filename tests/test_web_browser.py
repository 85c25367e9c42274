"""Issue 5's acceptance in a real Chromium (Debian's, under Playwright), against the whole application.

Every test leaves screenshots under test-artifacts/screenshots/ (named after the acceptance item).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Dialog, Page, expect

from tests.support.browser_fixtures import PHONE, OpenPage, Poster, WebApp, screenshot

LIVE_WITHIN_MS = 2_000
HOSTILE = "<script>alert(1)</script> <img src=x onerror=alert(1)> javascript:alert(1)"
# What a hostile post may contain once it is on the page: nothing that runs.
_RUNNABLE_IN = """(post) => ({
    scripts: post.querySelectorAll("script, img, iframe, object, embed").length,
    handlers: [...post.querySelectorAll("*")].flatMap(el => [...el.attributes].map(a => a.name))
        .filter(name => name.startsWith("on")),
    scriptLinks: [...post.querySelectorAll("[href], [src]")]
        .map(el => el.getAttribute("href") || el.getAttribute("src"))
        .filter(url => /^\\s*javascript:/i.test(url)),
    text: post.querySelector(".post-text").textContent,
})"""


def _post(page: Page, post_id: str) -> Any:
    return page.locator(f'article[data-post-id="{post_id}"]')


def _live(page: Page) -> None:
    """Wait until the page's live stream is connected."""
    expect(page.locator('.posts[data-live="open"]')).to_have_count(1)


def _mark_no_reload(page: Page) -> None:
    page.evaluate("window.__noReload = true")


def _not_reloaded(page: Page) -> bool:
    return bool(page.evaluate("window.__noReload === true"))


def test_1_sign_in_lands_on_home_and_a_wrong_password_is_explained(browser_page: OpenPage) -> None:
    page = browser_page()
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login$"))
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("not-her-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong username or password. Please try again.")
    assert [c for c in page.context.cookies() if c["name"] == "intrablog_session"] == []
    screenshot(page, "1-sign-in-wrong-password")

    page.get_by_label("Password").fill("alice-pass")
    page.get_by_label("Password").press("Enter")
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_role("heading", name="Home", level=1)).to_be_visible()
    expect(page.get_by_role("navigation", name="Main")).to_contain_text("Alice Archer")
    expect(page.locator("form.compose textarea[name=text]")).to_be_visible()
    screenshot(page, "1-home-after-sign-in")


def test_2_a_post_appears_live_for_bob_and_his_reply_live_on_alices_thread(
    browser_page: OpenPage, poster: Callable[[str], Poster]
) -> None:
    poster("alice")  # both exist in intrablog before either page opens
    bob = browser_page("bob")
    bob.goto("/channels/engineering")
    _live(bob)
    _mark_no_reload(bob)
    alice = browser_page("alice")
    alice.goto("/channels/engineering")
    alice.locator("#compose-text").fill("Deploy at 15:00 today, @bob please watch the dashboards")
    alice.get_by_role("button", name="Post", exact=True).click()
    posted_at = time.monotonic()
    alice_post = alice.locator("article.post").first
    post_id = alice_post.get_attribute("data-post-id")
    assert post_id is not None

    arrived = _post(bob, post_id)
    expect(arrived).to_be_visible(timeout=LIVE_WITHIN_MS)
    assert time.monotonic() - posted_at < LIVE_WITHIN_MS / 1000
    assert _not_reloaded(bob), "bob's page was reloaded"
    expect(arrived.locator(".author")).to_have_text("Alice Archer")
    expect(arrived.locator("time")).to_have_attribute("title", re.compile(r"\d{1,2}:\d{2}"))
    expect(arrived.locator(".post-text a.mention")).to_have_attribute("href", "/users/bob")
    screenshot(bob, "2-bob-sees-alices-post-live")

    alice.goto(f"/posts/{post_id}")
    _live(alice)
    _mark_no_reload(alice)
    arrived.get_by_role("link", name="Reply to Alice Archer").click()
    expect(bob.locator(".reply-context")).to_contain_text("Replying to Alice Archer")
    expect(bob.locator("#compose-text")).to_be_focused()
    bob.keyboard.type("Watching them now.")
    bob.get_by_role("button", name="Post", exact=True).click()
    replied_at = time.monotonic()

    reply = alice.locator("article.post", has_text="Watching them now.")
    expect(reply).to_be_visible(timeout=LIVE_WITHIN_MS)
    assert time.monotonic() - replied_at < LIVE_WITHIN_MS / 1000
    assert _not_reloaded(alice), "alice's thread page was reloaded"
    ids = alice.locator("article.post").evaluate_all("posts => posts.map(p => p.dataset.postId)")
    assert ids == [post_id, reply.get_attribute("data-post-id")], "the reply follows the post it answers"
    expect(reply.locator(".in-reply a")).to_have_attribute("href", f"/posts/{post_id}")
    screenshot(alice, "2-alice-thread-shows-bobs-reply-live")


def test_2_new_posts_wait_behind_a_bar_while_the_reader_is_scrolled(
    browser_page: OpenPage, poster: Callable[[str], Poster]
) -> None:
    alice = poster("alice")
    for n in range(12):
        alice.post(f"Backlog item {n}: a line long enough to take some room on the page", channel="launch")
    bob = browser_page("bob", viewport={"width": 800, "height": 500})
    bob.goto("/channels/launch")
    _live(bob)
    bob.evaluate("window.scrollTo(0, 900)")  # (wait_for_function would need the eval that the CSP forbids)
    assert bob.evaluate("window.scrollY") > 300
    top_before = bob.locator("article.post").first.get_attribute("data-post-id")
    made = [alice.post("Launch moved to Thursday", channel="launch"), alice.post("Room booked", channel="launch")]
    bar = bob.locator(".new-posts-button")
    expect(bar).to_have_text("2 new posts — show", timeout=LIVE_WITHIN_MS)
    assert bob.locator("article.post").first.get_attribute("data-post-id") == top_before, "the page moved"
    screenshot(bob, "2-new-posts-bar")
    bar.click()
    ids = bob.locator("article.post").evaluate_all("posts => posts.slice(0, 2).map(p => p.dataset.postId)")
    assert ids == [made[1]["id"], made[0]["id"]]
    expect(bob.locator("article.post").first).to_be_focused()
    expect(bob.locator(".new-posts")).to_be_hidden()


def test_3_counter_turns_red_past_the_limit_and_the_server_still_refuses(browser_page: OpenPage) -> None:
    page = browser_page("bob")
    page.goto("/channels/engineering")
    box, counter = page.locator("#compose-text"), page.locator("#compose-counter")
    button = page.get_by_role("button", name="Post", exact=True)
    box.fill("x" * 279)
    box.press_sequentially("y")
    expect(counter).to_have_text("280 / 280 characters")
    expect(button).to_be_enabled()
    box.press_sequentially("z")
    expect(counter).to_have_text("281 / 280 characters: 1 too many")
    expect(counter).to_have_class(re.compile(r"\bover\b"))
    assert counter.evaluate("el => getComputedStyle(el).color") == "rgb(163, 36, 28)"
    expect(button).to_be_disabled()
    screenshot(page, "3-counter-over-the-limit")

    # A crafted request: the form sent as it is, around the disabled button and the script's checks.
    with page.expect_navigation():
        page.locator("form.compose").evaluate("form => HTMLFormElement.prototype.submit.call(form)")
    expect(page.get_by_role("alert")).to_have_text("Your post is 281 characters; the limit is 280.")
    expect(page.locator("#compose-text")).to_have_value("x" * 279 + "yz")
    screenshot(page, "3-server-refuses-281-characters")


def test_4_hostile_text_is_only_text_live_and_after_reload(
    browser_page: OpenPage, poster: Callable[[str], Poster]
) -> None:
    dialogs: list[str] = []
    poster("alice")
    bob = browser_page("bob")

    def record(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    bob.on("dialog", record)
    bob.goto("/channels/engineering")
    _live(bob)
    alice = browser_page("alice")
    alice.on("dialog", record)
    alice.goto("/channels/engineering")
    alice.locator("#compose-text").fill(HOSTILE)
    alice.get_by_role("button", name="Post", exact=True).click()
    post_id = alice.locator("article.post").first.get_attribute("data-post-id")
    assert post_id is not None
    for page, how in ((bob, "live"), (alice, "rendered")):
        post = _post(page, post_id)
        expect(post).to_be_visible(timeout=LIVE_WITHIN_MS)
        found = post.evaluate(_RUNNABLE_IN)
        assert found == {"scripts": 0, "handlers": [], "scriptLinks": [], "text": HOSTILE}, how
    bob.reload()
    assert _post(bob, post_id).evaluate(_RUNNABLE_IN)["text"] == HOSTILE
    bob.wait_for_timeout(300)  # time for anything that could run to run
    assert dialogs == []
    screenshot(bob, "4-hostile-text-as-text")


def test_4_a_channel_you_may_not_see_is_a_plain_not_found_page(
    browser_page: OpenPage, poster: Callable[[str], Poster]
) -> None:
    alice = poster("alice")
    alice.call("POST", "/api/v1/channels", {"name": "board", "title": "Board", "visibility": "private"})
    page = browser_page("bob")
    response = page.goto("/channels/board")
    assert response is not None
    assert response.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    expect(page.locator("main")).to_contain_text("not shared with you")
    screenshot(page, "4-private-channel-not-found")


def test_5_cookie_is_httponly_samesite_and_requests_without_csrf_token_are_refused(browser_page: OpenPage) -> None:
    page = browser_page("bob")
    page.goto("/channels/engineering")
    session = next(c for c in page.context.cookies() if c["name"] == "intrablog_session")
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Lax"
    assert "intrablog_session=" not in page.evaluate("document.cookie"), "script can read the session"
    refused = page.evaluate(
        """async () => (await fetch("/api/v1/posts", {method: "POST", headers: {"Content-Type": "application/json"},
                                     body: JSON.stringify({text: "forged", channel: "engineering"})})).status"""
    )
    assert refused == 403
    # A form another site could make: the session cookie goes along, the token cannot.
    with page.expect_navigation():
        page.evaluate(
            """() => { const form = document.createElement("form"); form.method = "post";
                       form.action = "/channels/engineering"; const text = document.createElement("input");
                       text.name = "text"; text.value = "forged by a form"; form.append(text);
                       document.body.append(form); form.submit(); }"""
        )
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    screenshot(page, "5-form-without-csrf-token-refused")
    page.goto("/channels/engineering")
    expect(page.locator("article.post", has_text="forged")).to_have_count(0)


def test_6_posts_made_while_the_stream_is_down_arrive_once_each_on_reconnect(
    browser_page: OpenPage, poster: Callable[[str], Poster], web_app: WebApp
) -> None:
    alice = poster("alice")
    bob = browser_page("bob")
    bob.goto("/channels/engineering")
    _live(bob)
    first = alice.post("Before the outage", channel="engineering")
    expect(_post(bob, first["id"])).to_be_visible(timeout=LIVE_WITHIN_MS)
    resumed_before = web_app.hub.stats.resumed_by_last_event_id

    async def kill_streams() -> None:
        web_app.hub.close_all()

    web_app.run(kill_streams())
    missed = [alice.post("During the outage, one", channel="engineering")]
    missed.append(alice.post("During the outage, two", channel="engineering"))
    for post in missed:
        expect(_post(bob, post["id"])).to_be_visible(timeout=5_000)
    bob.wait_for_timeout(300)  # anything repeated would have arrived by now
    for post in (first, *missed):
        expect(_post(bob, post["id"])).to_have_count(1)
    assert web_app.hub.stats.resumed_by_last_event_id == resumed_before + 1, "no Last-Event-ID resume"
    ids = bob.locator("article.post").evaluate_all("posts => posts.slice(0, 3).map(p => p.dataset.postId)")
    assert ids == [missed[1]["id"], missed[0]["id"], first["id"]]
    screenshot(bob, "6-caught-up-after-reconnect")


def _serious_violations(page: Page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_7_no_serious_accessibility_violations_and_phone_width_fits(
    browser_page: OpenPage, poster: Callable[[str], Poster]
) -> None:
    alice = poster("alice")
    alice.post("Accessibility check: https://example.com/a11y #a11y", channel="engineering")
    visitor = browser_page()
    visitor.goto("/login")
    assert _serious_violations(visitor) == []
    screenshot(visitor, "7-sign-in")
    page = browser_page("alice")
    for path, name in (("/", "home"), ("/channels/engineering", "channel")):
        page.goto(path)
        assert _serious_violations(page) == [], path
        screenshot(page, f"7-{name}")

    # Keyboard: the first Tab reaches the skip link, which moves focus to the content.
    page.goto("/channels/engineering")
    page.keyboard.press("Tab")
    expect(page.locator(".skip-link")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()

    phone = browser_page("alice", viewport=PHONE)
    phone.goto("/channels/engineering")
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "scrolls sideways"
    assert _serious_violations(phone) == []
    screenshot(phone, "7-channel-on-a-phone")


def test_2_a_direct_message_appears_live_in_the_conversation(browser_page: OpenPage) -> None:
    bob = browser_page("bob")
    alice = browser_page("alice")
    alice.goto("/messages/bob")
    _live(alice)
    _mark_no_reload(alice)
    bob.goto("/messages?to=alice")
    expect(bob.get_by_role("heading", level=1)).to_have_text("Messages with Alice Archer")
    bob.get_by_label("Message Alice Archer").fill("Coffee at 3?")
    bob.get_by_role("button", name="Send").click()
    expect(bob.locator("article.message.mine")).to_have_text(re.compile("Coffee at 3?"))
    arrived = alice.locator("article.message", has_text="Coffee at 3?")
    expect(arrived).to_be_visible(timeout=LIVE_WITHIN_MS)
    expect(arrived).not_to_have_class(re.compile(r"\bmine\b"))
    assert _not_reloaded(alice)
    screenshot(alice, "2-direct-message-live")
