"""``GET /api/v1/admin/audit``: site admins only, newest first, paged by Link header, filtered by action.

The entries come from real operations (following and leaving a channel) through the API; SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

from aiohttp import ClientResponse

from tests.support.app_fixtures import Api
from tests.support.audit_log import configured_posters, entry, seeded_channels, without_ids

AUDIT = "/api/v1/admin/audit"
# With the 3 seeded channels and alice's and carol's configured poster roles: 27 entries, 3 pages of 9.
ROUNDS = 11
LAUNCH = "channel launch"


async def _join_and_leave(api: Api, rounds: int) -> None:
    """carol joins and leaves launch ``rounds`` times: two entries a round."""
    for _ in range(rounds):
        await api.json("POST", "/api/v1/channels/launch/follow", "carol")
        await api.json("DELETE", "/api/v1/channels/launch/follow", "carol")


def _carol_joined_and_left(rounds: int) -> list[dict[str, Any]]:
    """The entries of ``_join_and_leave``, newest first."""
    joined = entry("carol", "membership.added", LAUNCH, member="carol", role="member")
    left = entry("carol", "membership.removed", LAUNCH, member="carol", role="member")
    return [left, joined] * rounds


def _next_link(response: ClientResponse) -> str | None:
    header = response.headers.get("Link")
    if header is None:
        return None
    target, rel = header.split(";", 1)
    assert rel.strip() == 'rel="next"'
    url = target.strip().removeprefix("<").removesuffix(">")
    assert url.startswith("http://intrablog.test/api/v1/admin/audit?")
    return url.removeprefix("http://intrablog.test")


async def _all_pages(api: Api, first: str) -> tuple[list[dict[str, Any]], int]:
    """Every entry by following the Link headers from ``first``, and the number of pages."""
    entries: list[dict[str, Any]] = []
    pages = 0
    url: str | None = first
    while url is not None:
        response = await api.call("GET", url, "alice")
        assert response.status == 200, await response.text()
        entries += await response.json()
        pages += 1
        url = _next_link(response)
    return entries, pages


async def test_only_site_admins_read_the_log(api: Api) -> None:
    for name in ("alice", "bob"):
        await api.login(name)

    api.client.session.cookie_jar.clear()  # the logins' session cookies would sign the next call in
    anonymous = await api.call("GET", AUDIT)
    assert anonymous.status == 401
    assert anonymous.content_type == "application/problem+json"
    denied = await api.call("GET", AUDIT, "bob")
    assert denied.status == 403
    assert denied.content_type == "application/problem+json"
    assert "site admins" in (await denied.json())["detail"]
    # A bad filter from someone who may not read the log at all is still "not allowed".
    assert (await api.call("GET", AUDIT, "bob", params={"action": "membership."})).status == 403
    assert (await api.call("GET", AUDIT, "alice")).status == 200


async def test_pages_follow_the_link_header_newest_first_with_every_entry_once(api: Api) -> None:
    for name in ("alice", "carol"):
        await api.login(name)
    await _join_and_leave(api, ROUNDS)

    everything: list[dict[str, Any]] = await api.json("GET", AUDIT, "alice", params={"limit": "100"})
    # The configured channels created at start, alice and carol made posters by the config as they signed in,
    # then two entries a round.
    assert without_ids(everything) == [
        *_carol_joined_and_left(ROUNDS),
        *configured_posters(["alice", "carol"]),
        *seeded_channels(),
    ]
    assert len(everything) == 27
    ids = [each["id"] for each in everything]
    assert ids == sorted(ids, reverse=True)

    paged, pages = await _all_pages(api, f"{AUDIT}?limit=5")
    assert paged == everything
    assert pages == 6  # 27 entries, 5 a page
    # A page exactly at the end has a Link to an empty last page, which has none.
    exact, exact_pages = await _all_pages(api, f"{AUDIT}?limit=9")
    assert exact == everything
    assert exact_pages == 4
    # A cursor beyond every id (the column is a 32-bit integer) is no bound at all: the newest page.
    for huge in ("2147483647", "2147483648", "9223372036854775807"):
        assert await api.json("GET", AUDIT, "alice", params={"before": huge, "limit": "100"}) == everything

    # Entries written after the first page do not shift the pages after it.
    first = await api.call("GET", AUDIT, "alice", params={"limit": "10"})
    link = _next_link(first)
    assert link is not None
    await _join_and_leave(api, 1)
    rest, _ = await _all_pages(api, link)
    assert (await first.json()) + rest == everything


async def test_the_action_filter_matches_exactly_or_by_prefix(api: Api) -> None:
    for name in ("alice", "carol"):
        await api.login(name)
    await _join_and_leave(api, 3)
    await api.json("POST", "/api/v1/channels/launch/follow", "carol")

    async def actions(action: str, limit: str = "100") -> list[str]:
        params = {"action": action, "limit": limit}
        entries: list[dict[str, Any]] = await api.json("GET", AUDIT, "alice", params=params)
        return [entry["action"] for entry in entries]

    # carol's four joins and alice's and carol's poster roles from the config at sign-in.
    assert await actions("membership.added") == ["membership.added"] * 6
    assert await actions("membership.removed") == ["membership.removed"] * 3
    membership = await api.json("GET", AUDIT, "alice", params={"action": "membership.", "limit": "100"})
    assert without_ids(membership) == [
        entry("carol", "membership.added", LAUNCH, member="carol", role="member"),
        *_carol_joined_and_left(3),
        *configured_posters(["alice", "carol"]),
    ]
    assert await actions("channel.created") == ["channel.created"] * 3
    assert await actions("channel.") == ["channel.created"] * 3
    assert await actions("membership") == []  # not a prefix without its dot
    assert await actions("role.") == []
    # "_" is a letter here, not a LIKE wildcard that would match the "p" of "membership.".
    assert await actions("membershi_.") == []
    # Filtered pages link onwards with the filter kept.
    first = await api.call("GET", AUDIT, "alice", params={"action": "membership.added", "limit": "3"})
    link = _next_link(first)
    assert link is not None
    assert "action=membership.added" in link
    rest, _ = await _all_pages(api, link)
    assert [each["action"] for each in rest] == ["membership.added"] * 3
    assert (await first.json()) + rest == await api.json(
        "GET", AUDIT, "alice", params={"action": "membership.added", "limit": "100"}
    )


async def test_bad_query_parameters_are_named_in_a_problem(api: Api) -> None:
    await api.login("alice")
    for params, field in (
        ({"action": "Membership.Added"}, "action"),
        ({"action": "membership..added"}, "action"),
        ({"action": "x" * 65}, "action"),
        ({"before": "abc"}, "before"),
        ({"before": "0"}, "before"),
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "-1"}, "limit"),
    ):
        response = await api.call("GET", AUDIT, "alice", params=params)
        assert response.status == 422, params
        assert response.content_type == "application/problem+json"
        assert [error["field"] for error in (await response.json())["errors"]] == [field], params
