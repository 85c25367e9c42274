"""Schemathesis against the running API (acceptance: "no 5xx and no response that contradicts the schema").

The real application serves on a real port, on SQLite and on PostgreSQL, against the session's slapd. Every
operation in the served OpenAPI document gets positive and negative generated requests, some signed in as
alice (bearer token, or cookie with its CSRF token), some with whatever credentials schemathesis made up.
Path parameters are sometimes replaced with names and ids that exist, so the success paths run too.

Every response must pass: no 5xx, a documented status, a documented content type, a body that matches the
schema for that status, and documented response headers that match theirs. Failures are collected (not
shrunk) so one run reports every distinct problem, each with a curl command to reproduce it.
"""

from __future__ import annotations

import http.cookiejar
import itertools
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok

from intrablog.config import LdapConfig
from intrablog.runtime import build_app
from tests.support.app_fixtures import make_settings
from tests.support.live_server import LiveServer, live_server

Operation: TypeAlias = APIOperation[Any, Any, Any, Any]
GeneratedCase: TypeAlias = Case[Operation]

OPENAPI_PATH = "/api/v1/openapi.json"
MIN_REQUESTS = 1_000
# Examples per operation and generation mode. Operations with little to vary stop earlier on their own;
# the total is asserted below, not assumed.
MAX_EXAMPLES = {GenerationMode.POSITIVE: 80, GenerationMode.NEGATIVE: 60}
REQUEST_TIMEOUT_S = 15.0
COOKIE_NAME = "intrablog_session"
CSRF_HEADER = "X-CSRF-Token"

CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
    schemathesis.checks.response_headers_conformance,
]

# How a generated case is sent: as alice by bearer token, as alice by cookie + CSRF token, or with the
# credentials (if any) schemathesis generated itself - which are never valid, so those calls are anonymous.
AUTH_MODES = ("bearer", "bearer", "cookie", "generated")


@dataclass(frozen=True)
class Seeded:
    """What exists before fuzzing starts, by path parameter, and alice's session."""

    token: str
    csrf: str
    names: tuple[str, ...]
    usernames: tuple[str, ...]
    post_ids: tuple[str, ...]
    disposable_post_ids: tuple[str, ...]
    bodies: dict[str, tuple[dict[str, Any], ...]]


@dataclass
class Tally:
    requests: Counter[str] = field(default_factory=Counter)
    statuses: defaultdict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    failures: dict[tuple[str, str], str] = field(default_factory=dict)
    not_negatable: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.requests.values())

    def report(self) -> str:
        lines = [f"{self.total} generated requests"]
        for label in sorted({key.rsplit(" [", 1)[0] for key in self.requests}):
            positive = self.requests[f"{label} [positive]"]
            negative = self.requests[f"{label} [negative]"]
            statuses = ", ".join(f"{status}x{n}" for status, n in sorted(self.statuses[label].items()))
            lines.append(f"  {label:<45} +{positive:<3} -{negative:<3} {statuses}")
        if self.not_negatable:
            lines.append(f"  nothing to negate in: {', '.join(self.not_negatable)}")
        return "\n".join(lines)


def _quiet_session() -> requests.Session:
    """A keep-alive session that never stores cookies, so an anonymous case stays anonymous."""
    session = requests.Session()
    session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    return session


def _json(session: requests.Session, method: str, url: str, status: int, **kwargs: Any) -> Any:
    response = session.request(method, url, timeout=REQUEST_TIMEOUT_S, **kwargs)
    assert response.status_code == status, f"{method} {url}: {response.status_code} {response.text}"
    return response.json() if response.content else None


def _login(session: requests.Session, base_url: str, username: str) -> dict[str, Any]:
    body: dict[str, Any] = _json(
        session,
        "POST",
        f"{base_url}/api/v1/login",
        200,
        json={"username": username, "password": f"{username}-pass"},
    )
    return body


def _seed(session: requests.Session, base_url: str) -> Seeded:
    alice = _login(session, base_url, "alice")
    bob = _login(session, base_url, "bob")
    carol = _login(session, base_url, "carol")

    def as_user(who: dict[str, Any]) -> dict[str, str]:
        return {"Authorization": f"Bearer {who['token']}"}

    def post(who: dict[str, Any], **body: Any) -> str:
        created = _json(session, "POST", f"{base_url}/api/v1/posts", 201, json=body, headers=as_user(who))
        post_id: str = created["id"]
        return post_id

    def channel(who: dict[str, Any], name: str, visibility: str) -> str:
        body = {"name": name, "title": name.title(), "visibility": visibility}
        _json(session, "POST", f"{base_url}/api/v1/channels", 201, json=body, headers=as_user(who))
        return name

    alice_private = channel(alice, "alice-private", "private")
    bob_private = channel(bob, "bob-private", "private")
    root = post(alice, text="Hello #fuzzing, see https://example.com", channel="engineering")
    reply = post(bob, text="@alice welcome", in_reply_to=root)
    personal = post(alice, text="A personal update")
    in_private = post(alice, text="Just us", channel=alice_private)
    in_bobs = post(bob, text="Alice reads this as a site admin but may not answer", channel=bob_private)
    announcement = post(alice, text="Big news", channel="announcements")
    # carol's: alice may acknowledge it (again and again) and, as a site admin, see its report.
    asks_ack = post(carol, text="Please read the new policy", channel="announcements", requires_ack=True)
    _json(session, "POST", f"{base_url}/api/v1/users/bob/follow", 200, headers=as_user(alice))
    disposable = tuple(post(alice, text=f"Delete me {n}", channel="launch") for n in range(8))
    # Bindings for the unbind route to remove (each can be removed once; binding again is the POST route's).
    for name in ("launch", alice_private, bob_private):
        for group in ("engineering", "cn=hr,ou=groups,dc=example,dc=com"):
            url = f"{base_url}/api/v1/channels/{name}/groups"
            _json(session, "POST", url, 201, json={"group": group}, headers=as_user(alice))
    return Seeded(
        token=alice["token"],
        csrf=alice["csrf_token"],
        names=("engineering", "launch", "announcements", alice_private, bob_private),
        usernames=("alice", "bob", "carol", "dave"),
        post_ids=(root, reply, personal, in_private, in_bobs, announcement, asks_ack),
        disposable_post_ids=disposable,
        bodies={
            "POST /api/v1/login": (
                {"username": "alice", "password": "alice-pass"},
                {"username": "bob", "password": "alice-pass"},
                {"username": "ALICE", "password": "alice-pass"},
            ),
            "POST /api/v1/posts": (
                {"text": "fuzzing was here", "channel": "engineering"},
                {"text": "into the void", "channel": bob_private},
                {"text": "a reply", "in_reply_to": root},
                {"text": "a reply alice may not post", "in_reply_to": in_bobs},
                {"text": "an announcement", "channel": "announcements"},
                {"text": "please acknowledge", "channel": "announcements", "requires_ack": True, "urgent": True},
                {"text": "not here", "channel": "engineering", "requires_ack": True},
                # Matches the id pattern, but no 63-bit id is this large.
                {"text": "a reply to no post", "in_reply_to": "9999999999999999999"},
                {"text": "a reply to no post", "in_reply_to": "9223372036854775808"},
            ),
            "POST /api/v1/channels/{name}/groups": (
                {"group": "engineering", "role": "member"},
                {"group": "cn=hr,ou=groups,dc=example,dc=com", "role": "poster"},
                {"group": "no-such-group", "role": "admin"},
            ),
            "POST /api/v1/channels": (
                {"name": "fuzz-team", "title": "Fuzz"},
                {"name": "fuzz-news", "title": "Fuzz news", "kind": "announcement"},
                {"name": "engineering", "title": "Again"},
            ),
        },
    )


def _known_path_parameters(operation: Operation, seeded: Seeded) -> list[dict[str, str]]:
    params: list[str] = [parameter.name for parameter in operation.path_parameters]
    if not params:
        return []
    choices: list[tuple[str, ...]] = []
    for name in params:
        if name == "id":
            values = seeded.disposable_post_ids if operation.method.upper() == "DELETE" else seeded.post_ids
        elif name == "name":
            values = seeded.names
        elif name == "username":
            values = seeded.usernames
        elif name == "group":
            values = ("engineering", "cn=hr,ou=groups,dc=example,dc=com", "no-such-group")
        else:
            raise AssertionError(f"{operation.label}: no known values for path parameter {name!r}")
        choices.append(tuple(values))
    return [dict(zip(params, combination, strict=True)) for combination in itertools.product(*choices)]


def _strategy(operation: Operation, mode: GenerationMode, seeded: Seeded) -> st.SearchStrategy[GeneratedCase]:
    generated = operation.as_strategy(generation_mode=mode)
    if mode is GenerationMode.NEGATIVE:
        return generated
    known: list[st.SearchStrategy[GeneratedCase]] = [
        operation.as_strategy(path_parameters=values) for values in _known_path_parameters(operation, seeded)
    ]
    known += [operation.as_strategy(body=body) for body in seeded.bodies.get(operation.label, ())]
    if operation.body:
        # A body that does not match its Content-Encoding. The server drops the connection after answering.
        known.append(operation.as_strategy(headers={"Content-Encoding": "gzip", "Connection": "close"}))
    if not known:
        return generated
    return st.one_of(generated, st.one_of(*known))


def _signed_in(operation: Operation) -> bool:
    return bool(operation.definition.raw.get("security"))


def _authenticate(case: GeneratedCase, how: str, token: str, csrf: str) -> None:
    # Replaces whatever credentials were generated; the headers are case-insensitive, like HTTP's.
    cookies = dict(case.cookies or {})
    if how == "bearer":
        case.headers["Authorization"] = f"Bearer {token}"
        cookies.pop(COOKIE_NAME, None)
    elif how == "cookie":
        case.headers.pop("Authorization", None)
        case.headers[CSRF_HEADER] = csrf
        cookies[COOKIE_NAME] = token
    case.cookies = cookies


def _fuzz_operation(
    operation: Operation,
    mode: GenerationMode,
    server: LiveServer,
    session: requests.Session,
    seeded: Seeded,
    tally: Tally,
) -> None:
    label: str = operation.label
    is_logout = label == "POST /api/v1/logout"

    @settings(
        max_examples=MAX_EXAMPLES[mode],
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    @given(case=_strategy(operation, mode, seeded), how=st.sampled_from(AUTH_MODES))
    def run(case: GeneratedCase, how: str) -> None:
        if how != "generated" and _signed_in(operation):
            token, csrf = seeded.token, seeded.csrf
            if is_logout:
                # Signing out revokes the token used; give each logout a session of its own.
                fresh = _login(session, server.base_url, "alice")
                token, csrf = fresh["token"], fresh["csrf_token"]
            _authenticate(case, how, token, csrf)
        response = case.call(base_url=server.base_url, session=session, timeout=REQUEST_TIMEOUT_S)
        tally.requests[f"{label} [{mode.value}]"] += 1
        tally.statuses[label][response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as group:
            for failure in group.exceptions:
                key = (label, failure.title)
                if key not in tally.failures:
                    tally.failures[key] = (
                        f"{label} [{mode.value}, auth={how}] -> {response.status_code}: {failure.title}\n"
                        f"{failure.message}\n  response: {response.text[:500]}\n"
                        f"  reproduce: {case.as_curl_command()}"
                    )

    try:
        run()
    except Unsatisfiable:
        # An operation with no parameters, body or credentials has nothing negative data could change.
        has_input = bool(operation.path_parameters or operation.query or operation.body or _signed_in(operation))
        if mode is GenerationMode.NEGATIVE and not has_input and not tally.requests[f"{label} [{mode.value}]"]:
            tally.not_negatable.append(label)
            return
        raise


@pytest.fixture
def server(database_url: str, ldap_config: LdapConfig) -> Iterator[LiveServer]:
    settings_ = make_settings(database_url, ldap_config)
    with live_server(lambda: build_app(settings_)) as running:
        yield running


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with _quiet_session() as quiet:
        yield quiet


def test_schemathesis_finds_no_server_error_and_no_schema_violation(
    server: LiveServer, session: requests.Session
) -> None:
    started = time.monotonic()
    seeded = _seed(session, server.base_url)
    # Loaded as a dict rather than with from_url: schemathesis leaves out the operation that served the document
    # it loaded from a URL, and that route must be fuzzed like every other.
    document = _json(session, "GET", f"{server.base_url}{OPENAPI_PATH}", 200)
    schema = schemathesis.openapi.from_dict(document, config=schemathesis.Config())
    operations: list[Operation] = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"schemathesis cannot use an operation: {result.err()}"
        operations.append(result.ok())
    documented = {operation.label for operation in operations}
    routed = {f"{method.upper()} {path}" for path, item in document["paths"].items() for method in item}
    assert documented == routed, f"schemathesis would not exercise {sorted(routed - documented)}"

    tally = Tally()
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz_operation(operation, mode, server, session, seeded, tally)
    elapsed = time.monotonic() - started
    print(f"\nschemathesis on {server.base_url} in {elapsed:.1f}s: {tally.report()}")

    assert not tally.failures, f"{len(tally.failures)} distinct failures:\n\n" + "\n\n".join(tally.failures.values())
    never_called = documented - {key.rsplit(" [", 1)[0] for key in tally.requests}
    assert not never_called, f"operations never exercised: {sorted(never_called)}"
    for label in documented:
        assert any(200 <= status < 300 for status in tally.statuses[label]), f"{label} never succeeded"
    assert tally.total >= MIN_REQUESTS, tally.report()
