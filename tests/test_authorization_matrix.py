"""The authorisation matrix of the API (issue 6, item 5; acceptance 6): every route of the OpenAPI document,
for every actor, on public, private and announcement channels, answers as tests/support/authz_matrix.py
says — on a real slapd and on SQLite and PostgreSQL. A route added without an entry fails here. And IM
delivery follows the same read rule: a private channel's posts reach its members, nobody else, and never
the deactivated.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from intrablog.config import LdapConfig
from intrablog.devstack.slapd import Slapd
from intrablog.domain.im import origin_id_for_post
from intrablog.domain.model import User
from intrablog.runtime import build_app, build_runtime, web_settings_from
from intrablog.web.app import create_app
from intrablog.web.routing import api as route_table
from tests.support.app_fixtures import Api, make_settings
from tests.support.authz_matrix import (
    ROUTES,
    assert_every_route_has_an_entry,
    cases,
    documented_routes,
    fresh_channels_needed,
    route_coverage,
)
from tests.support.authz_world import AUTHZ_LDIF, AuthzWorld, build_world, channel_seeds
from tests.support.im_world import World

PROBLEM_JSON = "application/problem+json"


@dataclass
class Authz:
    world: AuthzWorld
    im: World  # the same runtime, for the delivery table


@pytest.fixture
async def authz(database_url: str, private_slapd: Slapd, private_ldap_config: LdapConfig) -> AsyncIterator[Authz]:
    private_slapd.load_ldif(AUTHZ_LDIF)
    fresh = fresh_channels_needed(ROUTES)
    settings = make_settings(database_url, private_ldap_config, channels=channel_seeds(fresh))
    runtime = build_runtime(settings)
    try:
        app = create_app(runtime.services, web_settings_from(settings))
        async with TestClient(TestServer(app)) as client:
            world = await build_world(runtime.services, Api(client), private_slapd, fresh)
            yield Authz(world, World(runtime))
    finally:
        await runtime.database.dispose()


async def _served_document(api: Api) -> dict[str, Any]:
    response = await api.client.get("/api/v1/openapi.json")
    assert response.status == 200, await response.text()
    document: dict[str, Any] = await response.json()
    return document


def _outcome(status: int) -> str:
    return "ok" if 200 <= status < 300 else str(status)


async def test_every_route_answers_every_actor_as_the_matrix_says(authz: Authz) -> None:
    world = authz.world
    assert_every_route_has_an_entry(await _served_document(world.api))
    mismatches: list[str] = []
    checked = 0
    for (method, template), actor, kind, expected in cases():
        call = await ROUTES[(method, template)].call(world, actor, kind)
        token = call.token or world.tokens[actor]
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        # Signing in sets the session cookie in the client's jar: without this, "anonymous" would be whoever
        # signed in last.
        world.api.client.session.cookie_jar.clear()
        response = await world.api.client.request(method, call.path, headers=headers, json=call.body)
        body = await response.text()
        got = _outcome(response.status)
        where = f"{method} {template} [{kind or 'no channel'}] as {actor} ({call.path})"
        if got != expected:
            mismatches.append(f"{where}: expected {expected}, got {response.status} {body[:300]}")
        elif got != "ok" and response.content_type != PROBLEM_JSON:
            mismatches.append(f"{where}: {response.status} as {response.content_type}, not problem+json")
        checked += 1
    assert not mismatches, f"{len(mismatches)} of {checked} cases differ from the matrix:\n" + "\n".join(mismatches)


async def test_every_documented_route_has_an_entry(sqlite_url: str, ldap_config: LdapConfig) -> None:
    async with TestClient(TestServer(build_app(make_settings(sqlite_url, ldap_config)))) as client:
        document = await _served_document(Api(client))
    coverage = route_coverage(document)
    assert (coverage.missing, coverage.extra) == ([], [])
    assert documented_routes(document) == set(ROUTES)


async def _secrets(request: web.Request) -> web.StreamResponse:
    return web.json_response({"secret": "nobody checked who may read this"})


async def test_a_new_route_without_an_entry_fails(sqlite_url: str, ldap_config: LdapConfig) -> None:
    # Declared exactly as the API modules declare theirs, on the same table, so the app serves it and the
    # document describes it; taken off the table again whatever happens.
    registered = len(route_table.operations)
    route_table.route("GET", "/api/v1/channels/{name}/secrets", summary="Undeclared secrets", tag="channels")(_secrets)
    try:
        app = build_app(make_settings(sqlite_url, ldap_config))
    finally:
        del route_table.operations[registered:]
    async with TestClient(TestServer(app)) as client:
        api = Api(client)
        await api.login("bob")
        served = await api.call("GET", "/api/v1/channels/engineering/secrets", "bob")
        assert served.status == 200  # it is live: exactly what the matrix exists to catch
        document = await _served_document(api)

    coverage = route_coverage(document)
    assert coverage.missing == [("GET", "/api/v1/channels/{name}/secrets")]
    assert coverage.extra == []
    with pytest.raises(AssertionError, match=r"without an entry \[\('GET', '/api/v1/channels/\{name\}/secrets'\)\]"):
        assert_every_route_has_an_entry(document)


async def test_private_posts_reach_members_on_im_and_never_outsiders_or_the_deactivated(authz: Authz) -> None:
    world, im = authz.world, authz.im
    # Posted while the deactivated person was still a member and a follower of the poster; expanded after.
    await im.expand()
    private = await im.deliveries_of(origin_id_for_post(int(world.post("private"))))
    assert private == {"mike": ("channel", "pending"), "chad": ("channel", "pending")}
    public = await im.deliveries_of(origin_id_for_post(int(world.post("public"))))
    assert public == {"mike": ("channel", "pending"), "chad": ("channel", "pending")}
    announcement = await im.deliveries_of(origin_id_for_post(int(world.post("announcement"))))
    everyone_but_author_and_dina = {"alice", "bob", "carol", "dave", "nora", "mike", "chad"}
    assert set(announcement) == everyone_but_author_and_dina
    assert {reason for reason, _ in announcement.values()} == {"announcement"}

    # A post made after the deactivation, by the channel admin: the member and the poster get it.
    later = await world.api.post("chad", "after dina left", channel=world.channel("private"))
    await im.expand()
    assert await im.deliveries_of(origin_id_for_post(int(later["id"]))) == {
        "mike": ("channel", "pending"),
        "paula": ("channel", "pending"),
    }
    # The deactivated person still follows the poster; nothing reaches them through it.
    dina = await im.services.people.profile(await _user(im, "paula"), "dina")
    assert (dina.following, dina.user.active) == (1, False)


async def _user(im: World, username: str) -> User:
    async with im.runtime.database.unit_of_work() as uow:
        user = await uow.users.by_username(username)
    assert user is not None
    return user
