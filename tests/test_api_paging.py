"""Cursor paging through the Link header while others keep posting (acceptance: issue 3, item 5)."""

from __future__ import annotations

import asyncio
import re

from tests.support.app_fixtures import Api

NEXT_LINK = re.compile(r'<([^>]+)>;\s*rel="next"')


async def test_paging_yields_every_post_once_newest_first_under_concurrent_writes(api: Api) -> None:
    await api.login("alice")
    await api.login("bob")
    await api.json("POST", "/api/v1/channels/engineering/follow", "bob")
    originals = [(await api.post("alice", f"status update {n}", "engineering"))["id"] for n in range(100)]

    stop = asyncio.Event()

    async def keep_posting() -> int:
        count = 0
        while not stop.is_set():
            await api.post("alice", f"concurrent {count}", "engineering")
            count += 1
            await asyncio.sleep(0)
        return count

    writer = asyncio.create_task(keep_posting())
    seen: list[str] = []
    pages = 0
    path: str | None = "/api/v1/timeline/home?limit=20"
    try:
        while path is not None:
            response = await api.call("GET", path, "bob")
            assert response.status == 200
            page = await response.json()
            assert len(page) <= 20
            seen += [p["id"] for p in page]
            pages += 1
            await asyncio.sleep(0.01)  # let the writer interleave between pages
            match = NEXT_LINK.search(response.headers.get("Link", ""))
            path = match.group(1).removeprefix("http://intrablog.test") if match else None
            assert pages < 50, "paging does not end"
    finally:
        stop.set()
        written = await writer
    assert written > 0, "the concurrent writer never ran"
    assert len(seen) == len(set(seen)), "a post appeared on two pages"
    assert [int(i) for i in seen] == sorted((int(i) for i in seen), reverse=True), "not newest first"
    assert set(originals) <= set(seen)
    assert [i for i in seen if i in set(originals)] == list(reversed(originals))


async def test_page_parameters_are_validated(api: Api) -> None:
    await api.login("bob")
    for query, field in (("limit=0", "limit"), ("limit=101", "limit"), ("limit=ten", "limit"), ("before=x", "before")):
        response = await api.call("GET", f"/api/v1/timeline/home?{query}", "bob")
        assert response.status == 422, query
        body = await response.json(content_type=None)
        assert body["errors"][0]["field"] == field
    last = await api.call("GET", "/api/v1/timeline/home?limit=5", "bob")
    assert "Link" not in last.headers  # an empty timeline has no next page
