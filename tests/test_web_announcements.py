"""Announcements that ask for acknowledgement, on the web (issue 6, item 4), in a real Chromium.

The Acknowledge button, the report page (counts, departments, who and when, the CSV link), the home page's
list of what waits for you and the live reminder, the compose box's options for posters, and the error
pages for everyone else. Real slapd (departments come from its demo directory) and SQLite.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Locator, Page, expect

from intrablog.config import AnnouncementsConfig, LdapConfig
from intrablog.runtime import build_app
from intrablog.web.keys import SERVICES
from tests.support.app_fixtures import make_settings
from tests.support.browser_fixtures import PHONE, OpenPage, Poster, WebApp, screenshot
from tests.support.live_server import live_server

# The reminder round runs when a test calls it (serve's own schedule first looks after a minute).
REMINDER_MINUTES = 0.002
LIVE_WITHIN_MS = 2_000


@pytest.fixture
def web_app(sqlite_url: str, ldap_config: LdapConfig) -> Iterator[WebApp]:
    """browser_fixtures' application, with reminders due almost at once."""
    settings = make_settings(
        sqlite_url, ldap_config, announcements=AnnouncementsConfig(reminder_delay_minutes=REMINDER_MINUTES)
    )
    built = []

    def build() -> Any:
        app = build_app(settings)
        built.append(app)
        return app

    with live_server(build) as server:
        yield WebApp(server, built[0])


def _announce(carol: Poster, text: str, **flags: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"text": text, "channel": "announcements", "requires_ack": True} | flags
    created: dict[str, Any] = carol.call("POST", "/api/v1/posts", body)
    return created


def _article(page: Page, post_id: str) -> Locator:
    return page.locator(f'article[data-post-id="{post_id}"]')


def _everyone(poster: Callable[[str], Poster]) -> dict[str, Poster]:
    """Everyone signed in once: intrablog knows them (and their departments) from then on."""
    return {name: poster(name) for name in ("alice", "bob", "carol", "dave")}


def test_the_acknowledge_button_acknowledges(browser_page: OpenPage, poster: Callable[[str], Poster]) -> None:
    people = _everyone(poster)
    notice = _announce(people["carol"], "Office closed on Monday: the heating is being replaced")
    bob = browser_page("bob")
    bob.goto("/")
    card = _article(bob, notice["id"])
    expect(card.locator(".badge")).to_have_text(["Please acknowledge"])
    expect(card.locator(".ack-report")).to_have_count(0)  # bob only reads announcements
    screenshot(bob, "ack-1-waiting")

    card.get_by_role("button", name="Acknowledge the announcement by Carol").click()
    expect(bob).to_have_url(re.compile(rf"/#post-{notice['id']}$"))
    card = _article(bob, notice["id"])
    expect(card.locator(".acknowledged")).to_have_text("Acknowledged just now")
    expect(card.get_by_role("button", name=re.compile("^Acknowledge"))).to_have_count(0)
    expect(card.locator(".badge")).to_have_count(0)
    expect(bob.locator(".waiting-acks")).to_have_count(0)
    screenshot(bob, "ack-1-acknowledged")
    report = people["carol"].call("GET", f"/api/v1/posts/{notice['id']}/acks")
    assert [(a["username"], a["via"]) for a in report["acknowledged"]] == [("bob", "web")]

    # The thread page knows too, with the exact time on hover.
    bob.goto(f"/posts/{notice['id']}")
    expect(_article(bob, notice["id"]).locator(".acknowledged time")).to_have_attribute("title", re.compile(r"\d:\d\d"))


def test_the_report_page_shows_who_acknowledged_by_department(
    browser_page: OpenPage, poster: Callable[[str], Poster], web_app: WebApp
) -> None:
    people = _everyone(poster)
    notice = _announce(people["carol"], "New expense policy from March")
    alice = browser_page("alice")
    alice.goto("/channels/announcements")
    _article(alice, notice["id"]).get_by_role("button", name=re.compile("^Acknowledge")).click()
    expect(_article(alice, notice["id"]).locator(".acknowledged")).to_be_visible()
    bob = web_app.run(web_app.app[SERVICES].accounts.sign_in("bob", "bob-pass")).user
    web_app.run(web_app.app[SERVICES].announcements.acknowledge(bob, int(notice["id"]), "im"))

    carol = browser_page("carol")
    carol.goto("/")
    card = _article(carol, notice["id"])
    expect(card.locator(".badge")).to_have_text(["Asks for acknowledgement"])
    card.get_by_role("link", name=re.compile("^Acknowledgements")).click()
    expect(carol).to_have_url(re.compile(rf"/posts/{notice['id']}/acks$"))
    expect(carol.get_by_role("heading", level=1)).to_have_text("Acknowledgements")
    expect(carol.locator(".ack-counts")).to_have_text(re.compile(r"2\s+of 3 acknowledged \(67%\),\s+1\s+not yet"))
    departments = carol.locator("table.departments tbody tr")
    expect(departments).to_have_count(2)
    expect(carol.locator('tr[data-department="Engineering"] td')).to_have_text(["2", "0"])
    expect(carol.locator('tr[data-department="Sales"] td')).to_have_text(["0", "1"])
    done = carol.locator("table.acknowledged-list tbody tr")
    expect(done).to_have_count(2)
    expect(done.nth(0)).to_contain_text("Alice Archer")
    expect(done.nth(0).locator("td")).to_have_text(["Engineering", "just now", "Web"])
    expect(done.nth(1).locator("td")).to_have_text(["Engineering", "just now", "IM"])
    waiting = carol.locator("table.pending-list tbody tr")
    expect(waiting).to_have_count(1)
    expect(waiting.nth(0)).to_have_attribute("data-username", "dave")
    expect(waiting.nth(0).locator("td")).to_have_text(["Sales"])
    assert _serious_violations(carol) == []
    screenshot(carol, "ack-2-report")

    phone = browser_page("carol", viewport=PHONE)
    phone.goto(f"/posts/{notice['id']}/acks")
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "scrolls sideways"
    screenshot(phone, "ack-2-report-on-a-phone")

    download = carol.get_by_role("link", name="Download CSV")
    expect(download).to_have_attribute("href", f"/api/v1/posts/{notice['id']}/acks.csv")
    csv = carol.request.get(download.get_attribute("href") or "")
    assert csv.ok, csv.text()
    assert csv.headers["content-type"].startswith("text/csv")
    rows = [line.split(",") for line in csv.text().strip().splitlines()]
    assert [(row[0], row[2], row[3]) for row in rows[1:]] == [
        ("alice", "Engineering", "acknowledged"),
        ("bob", "Engineering", "acknowledged"),
        ("dave", "Sales", "pending"),
    ]


def test_home_lists_what_waits_and_the_reminder_arrives_live(
    browser_page: OpenPage, poster: Callable[[str], Poster], web_app: WebApp
) -> None:
    people = _everyone(poster)
    older = _announce(people["carol"], "Fire drill on Tuesday at 10")
    newer = _announce(people["carol"], "Water leak: stay out of building B", urgent=True)
    people["carol"].call("POST", "/api/v1/posts", {"text": "Cake in the kitchen", "channel": "announcements"})
    dave = browser_page("dave")
    dave.goto("/")
    expect(dave.locator('.posts[data-live="open"]')).to_have_count(1)
    waiting = dave.get_by_role("region", name=re.compile("Waiting for your acknowledgement"))
    expect(waiting.get_by_role("heading")).to_have_text("Waiting for your acknowledgement (2)")
    items = waiting.locator("li")
    expect(items).to_have_count(2)
    expect(items.nth(0)).to_have_attribute("data-post-id", newer["id"])
    expect(items.nth(0).locator(".badge")).to_have_text("Urgent")
    expect(items.nth(1)).to_have_attribute("data-post-id", older["id"])
    expect(items.nth(1).get_by_role("link")).to_have_attribute("href", f"/posts/{older['id']}")
    assert _serious_violations(dave) == []
    screenshot(dave, "ack-3-waiting-on-home")

    # The reminder round: dave's open page is told, without a reload.
    dave.evaluate("window.__noReload = true")
    time.sleep(REMINDER_MINUTES * 60 + 0.05)
    reminded = web_app.run(web_app.app[SERVICES].announcements.send_due_reminders())
    assert reminded == 6  # alice, bob and dave, for each of the two
    reminder = dave.locator(f'.ack-reminder[data-post-id="{older["id"]}"]')
    expect(reminder).to_be_visible(timeout=LIVE_WITHIN_MS)
    expect(reminder).to_have_attribute("role", "alert")
    expect(reminder).to_contain_text("Reminder: please acknowledge this announcement — Fire drill on Tuesday at 10")
    expect(reminder.get_by_role("link")).to_have_attribute("href", f"/posts/{older['id']}")
    assert dave.evaluate("window.__noReload === true"), "the page was reloaded"
    screenshot(dave, "ack-3-reminder-live")

    # Acknowledging from the list takes it off.
    items.nth(0).get_by_role("button", name=re.compile("^Acknowledge")).click()
    expect(dave.get_by_role("heading", name=re.compile("Waiting"))).to_have_text("Waiting for your acknowledgement (1)")
    expect(waiting.locator("li")).to_have_count(1)


def test_posters_ask_from_the_compose_box_and_readers_acknowledge_what_arrives_live(
    browser_page: OpenPage, poster: Callable[[str], Poster]
) -> None:
    people = _everyone(poster)
    bob = browser_page("bob")
    bob.goto("/channels/announcements")
    expect(bob.locator('.posts[data-live="open"]')).to_have_count(1)
    expect(bob.get_by_label("Ask for acknowledgement")).to_have_count(0)  # bob may not post here

    carol = browser_page("carol")
    carol.goto("/channels/announcements")
    carol.locator("#compose-text").fill("Quarterly all-hands on Thursday at 4")
    carol.get_by_label("Ask for acknowledgement").check()
    carol.get_by_label(re.compile(r"\bUrgent\b")).check()
    carol.get_by_role("button", name="Post", exact=True).click()
    mine = carol.locator("article.post").first
    expect(mine.locator(".badge")).to_have_text(["Urgent", "Asks for acknowledgement"])
    expect(mine.get_by_role("button", name=re.compile("^Acknowledge"))).to_have_count(0)
    post_id = mine.get_attribute("data-post-id") or ""
    screenshot(carol, "ack-4-posted-with-options")
    created = people["carol"].call("GET", f"/api/v1/posts/{post_id}")
    assert (created["requires_ack"], created["urgent"]) == (True, True)

    arrived = _article(bob, post_id)
    expect(arrived).to_be_visible(timeout=LIVE_WITHIN_MS)
    expect(arrived.locator(".badge")).to_have_text(["Urgent", "Please acknowledge"])
    # The pushed post carries no secret of its own: the page fills in its CSRF token.
    arrived.get_by_role("button", name=re.compile("^Acknowledge")).click()
    expect(_article(bob, post_id).locator(".acknowledged")).to_have_text("Acknowledged just now")
    report = people["carol"].call("GET", f"/api/v1/posts/{post_id}/acks")
    assert [a["username"] for a in report["acknowledged"]] == ["bob"]

    # Only an announcement channel's box has the options.
    carol.goto("/channels/engineering")
    expect(carol.get_by_label("Ask for acknowledgement")).to_have_count(0)


def test_readers_get_the_error_page_and_the_author_cannot_acknowledge(
    browser_page: OpenPage, poster: Callable[[str], Poster]
) -> None:
    people = _everyone(poster)
    notice = _announce(people["carol"], "Badge photos on Friday")
    plain = people["carol"].call("POST", "/api/v1/posts", {"text": "Cake in the kitchen", "channel": "announcements"})
    bob = browser_page("bob")
    response = bob.goto(f"/posts/{notice['id']}/acks")
    assert response is not None
    assert response.status == 403
    expect(bob.get_by_role("heading", level=1)).to_have_text("Not allowed")
    expect(bob.locator(".error-page")).to_contain_text("Only the author, the channel's posters and admins")
    screenshot(bob, "ack-5-report-not-allowed")
    missing = bob.goto("/posts/123456789/acks")
    assert missing is not None
    assert missing.status == 404
    expect(bob.get_by_role("heading", level=1)).to_have_text("Not found")
    not_asking = browser_page("carol").goto(f"/posts/{plain['id']}/acks")
    assert not_asking is not None
    assert not_asking.status == 409

    # Site admins see every report (alice is one).
    alice = browser_page("alice")
    alice.goto(f"/posts/{notice['id']}")
    expect(_article(alice, notice["id"]).get_by_role("link", name=re.compile("^Acknowledgements"))).to_be_visible()
    # The author's own form post, had she forged one, is refused in words.
    carol = browser_page("carol")
    carol.goto(f"/posts/{notice['id']}")
    token = carol.locator('meta[name="csrf-token"]').get_attribute("content") or ""
    forged = carol.request.post(f"/posts/{notice['id']}/ack", form={"csrf_token": token}, max_redirects=0)
    assert forged.status == 409
    assert "your own announcement" in forged.text()


def _serious_violations(page: Page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
