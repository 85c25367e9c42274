"""The audit log page (``/admin/audit``): site admins only, a table newest first, a filter, older pages.

The whole application against the session's slapd, signed in with the form (cookie), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import html as markup
import re
from html.parser import HTMLParser

from aiohttp import ClientResponse

from tests.support.app_fixtures import Api
from tests.support.audit_log import CONFIG_AT_SIGN_IN as CONFIGURED

PAGE = "/admin/audit"
_HIDDEN_TOKEN = re.compile(r'name="csrf_token" value="([^"]*)"')
_OLDER = re.compile(r'<a href="([^"]*)" rel="next">Older entries</a>')
_NAV_LINK = re.compile(r'<a href="/admin/audit"[^>]*>Audit log</a>')
# The rows of seeding the configured channels (tests.support.app_fixtures.DEMO_CHANNELS), newest first.
_SEEDED = [
    [
        "system",
        "channel.created",
        "channel announcements",
        "kind announcement source config title Announcements visibility public",
    ],
    ["system", "channel.created", "channel launch", "kind project source config title Launch visibility public"],
    ["system", "channel.created", "channel engineering", "kind team source config title Engineering visibility public"],
]


class _Table(HTMLParser):
    """The text of each cell of each body row of the audit table."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._in_body = False
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tbody":
            self._in_body = True
        elif self._in_body and tag == "tr":
            self.rows.append([])
        elif self._in_body and tag == "td" and self._cell is None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "tbody":
            self._in_body = False
        elif tag == "td" and self._cell is not None:
            # Details hold nested lists, never nested cells: the first </td> ends the cell.
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _rows(html: str) -> list[list[str]]:
    parser = _Table()
    parser.feed(html)
    return [row for row in parser.rows if len(row) == 5]


async def _sign_in(api: Api, username: str) -> None:
    api.client.session.cookie_jar.clear()
    form = await api.client.get("/login")
    match = _HIDDEN_TOKEN.search(await form.text())
    assert match
    data = {"username": username, "password": f"{username}-pass", "csrf_token": match.group(1)}
    response = await api.client.post("/login", data=data, allow_redirects=False)
    assert response.status == 303


async def _page(api: Api, path: str, status: int = 200) -> str:
    response: ClientResponse = await api.client.get(path, allow_redirects=False)
    assert response.status == status, path
    assert response.content_type == "text/html"
    return await response.text()


async def test_a_site_admin_reads_the_log_as_a_table_with_a_filter_and_older_pages(api: Api) -> None:
    await api.login("carol")
    await api.json("POST", "/api/v1/channels/launch/follow", "carol")
    await api.json("DELETE", "/api/v1/channels/launch/follow", "carol")
    hostile = {"name": "xss", "title": "<script>alert(1)</script>"}
    await api.json("POST", "/api/v1/channels", "carol", status=201, json=hostile)
    await _sign_in(api, "alice")

    html = await _page(api, PAGE)
    assert _NAV_LINK.search(html)
    assert 'aria-current="page">Audit log' in html
    rows = _rows(html)
    # The config makes carol, then alice, posters of announcements as they sign in.
    assert [row[1:] for row in rows] == [
        ["system", "membership.added", "channel announcements", f"member alice role poster source {CONFIGURED}"],
        [
            "carol",
            "channel.created",
            "channel xss",
            "admin carol kind team title <script>alert(1)</script> visibility public",
        ],
        ["carol", "membership.removed", "channel launch", "member carol role member"],
        ["carol", "membership.added", "channel launch", "member carol role member"],
        ["system", "membership.added", "channel announcements", f"member carol role poster source {CONFIGURED}"],
        *_SEEDED,
    ]
    assert "<script>alert(1)" not in html  # shown as text, never as markup
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", rows[0][0])

    filtered = await _page(api, f"{PAGE}?action=membership.")
    assert [row[1:] for row in _rows(filtered)] == [rows[0][1:], *[row[1:] for row in rows[2:5]]]
    assert '<option value="membership." selected>' in filtered

    # Two a page, following "Older entries" to the end: every entry once, in order.
    seen: list[list[str]] = []
    path: str | None = f"{PAGE}?limit=2"
    pages = 0
    while path is not None:
        page = await _page(api, path)
        seen += _rows(page)
        pages += 1
        older = _OLDER.search(page)
        path = markup.unescape(older.group(1)) if older else None
        if path is not None:
            assert "limit=2" in path
            assert "Newest entries" in (await _page(api, path))
    assert seen == rows
    assert pages == 5  # 8 entries, 2 a page, and the empty page after a full last one


async def test_a_bad_filter_is_explained_above_the_newest_entries(api: Api) -> None:
    await _sign_in(api, "alice")
    html = await _page(api, f"{PAGE}?action=Not+An+Action", status=422)
    assert 'role="alert">Action must be an action such as membership.added' in html
    # Unfiltered: alice made a poster by the config as she signed in, and the configured channels' entries.
    assert [row[1:] for row in _rows(html)] == [
        ["system", "membership.added", "channel announcements", f"member alice role poster source {CONFIGURED}"],
        *_SEEDED,
    ]
    html = await _page(api, f"{PAGE}?before=soon", status=422)
    assert "Before must be an entry id" in html


async def test_others_get_the_readable_403_page_and_no_link_and_strangers_sign_in_first(api: Api) -> None:
    await _sign_in(api, "bob")
    denied = await _page(api, PAGE, status=403)
    assert "Not allowed" in denied
    assert "Only site admins read the audit log" in denied
    assert not _rows(denied)
    assert not _NAV_LINK.search(denied)
    assert not _NAV_LINK.search(await _page(api, "/"))
    # Even with a bad filter: the answer is that bob may not read the log, not how to filter it.
    assert "Only site admins" in await _page(api, f"{PAGE}?before=soon", status=403)

    api.client.session.cookie_jar.clear()
    stranger = await api.client.get(PAGE, allow_redirects=False)
    assert stranger.status == 303
    assert stranger.headers["Location"] == "/login?next=%2Fadmin%2Faudit"
