"""The pages without a browser: security headers, CSRF on forms, cookie flags, escaping, errors as pages.

Each runs the whole application against the session's slapd, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from http.cookies import SimpleCookie

from aiohttp import ClientResponse

from tests.support.app_fixtures import Api

HOSTILE = (
    '<script>alert(1)</script> <img src=x onerror=alert(1)> javascript:alert(1) <a href="javascript:alert(2)">x</a>'
)
_HIDDEN_TOKEN = re.compile(r'name="csrf_token" value="([^"]*)"')


def _cookies(response: ClientResponse) -> SimpleCookie:
    cookies: SimpleCookie = SimpleCookie()
    for header in response.headers.getall("Set-Cookie", []):
        cookies.load(header)
    return cookies


async def _form_token(api: Api, path: str) -> str:
    page = await api.client.get(path)
    match = _HIDDEN_TOKEN.search(await page.text())
    assert match, f"no csrf_token field on {path}"
    return match.group(1)


async def _sign_in_with_form(api: Api, username: str) -> ClientResponse:
    # The API logins of a test share this client's cookie jar; the form signs in afresh.
    api.client.session.cookie_jar.clear()
    token = await _form_token(api, "/login")
    return await api.client.post(
        "/login",
        data={"username": username, "password": f"{username}-pass", "csrf_token": token},
        allow_redirects=False,
    )


class _Elements(HTMLParser):
    """Every start tag with its attributes, and the text of <script> elements."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _elements(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Elements()
    parser.feed(html)
    return parser.tags


async def test_pages_send_a_csp_that_forbids_inline_script_and_have_none(api: Api) -> None:
    await _sign_in_with_form(api, "alice")
    for path in ("/login", "/", "/channels/engineering", "/users/alice", "/mentions", "/channels", "/nowhere"):
        response = await api.client.get(path)
        assert response.status == (404 if path == "/nowhere" else 200), path
        csp = response.headers["Content-Security-Policy"]
        directives = dict(part.strip().split(" ", 1) for part in csp.split(";"))
        assert directives["script-src"] == "'self'"
        assert "unsafe-inline" not in csp
        assert "unsafe-eval" not in csp
        assert directives["frame-ancestors"] == "'none'"
        assert directives["form-action"] == "'self'"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        for tag, attrs in _elements(await response.text()):
            assert not any(name.startswith("on") for name in attrs), f"inline handler on <{tag}> of {path}"
            if tag == "script":
                assert attrs.get("src", "").startswith("/static/"), f"inline script on {path}"  # type: ignore[union-attr]
    script = await api.client.get("/static/app.js")
    assert script.status == 200
    assert "javascript" in script.content_type


async def test_form_sign_in_sets_httponly_samesite_cookies(api: Api) -> None:
    response = await _sign_in_with_form(api, "alice")
    assert response.status == 303
    assert response.headers["Location"] == "/"
    cookies = _cookies(response)
    session = cookies["intrablog_session"]
    assert session["httponly"] is True
    assert session["samesite"] == "Lax"
    assert session["path"] == "/"
    assert cookies["intrablog_session_csrf"]["httponly"] == ""  # the page's script reads this one
    home = await api.client.get("/")
    assert home.status == 200
    assert "Alice Archer" in await home.text()


async def test_wrong_password_shows_a_message_and_sets_no_session(api: Api) -> None:
    token = await _form_token(api, "/login")
    response = await api.client.post("/login", data={"username": "alice", "password": "nope", "csrf_token": token})
    assert response.status == 401
    assert "Wrong username or password" in await response.text()
    assert "intrablog_session" not in _cookies(response)
    assert (await api.client.get("/", allow_redirects=False)).status == 303


async def test_sign_in_form_without_its_token_is_refused(api: Api) -> None:
    response = await api.client.post("/login", data={"username": "alice", "password": "alice-pass"})
    assert response.status == 403
    assert "intrablog_session" not in _cookies(response)


async def test_cookie_form_post_without_csrf_token_is_refused(api: Api) -> None:
    await _sign_in_with_form(api, "bob")
    forged = await api.client.post("/channels/engineering", data={"text": "forged"}, allow_redirects=False)
    assert forged.status == 403
    assert forged.content_type == "text/html"
    assert "expired or did not come from intrablog" in await forged.text()
    wrong = await api.client.post("/channels/engineering", data={"text": "forged", "csrf_token": "0" * 64})
    assert wrong.status == 403
    token = await _form_token(api, "/channels/engineering")
    made = await api.client.post(
        "/channels/engineering", data={"text": "from the form", "csrf_token": token}, allow_redirects=False
    )
    assert made.status == 303
    assert made.headers["Location"] == "/channels/engineering"
    await api.login("bob")
    texts = [post["text"] for post in await api.json("GET", "/api/v1/channels/engineering/posts", "bob")]
    assert texts == ["from the form"]


async def test_hostile_post_text_is_escaped_on_every_page(api: Api) -> None:
    await api.login("alice")
    await api.login("bob")  # a mention links only to someone intrablog knows
    created = await api.post("alice", f"{HOSTILE} @bob https://example.com/x?a=1&b=2 #launch", channel="engineering")
    await _sign_in_with_form(api, "bob")
    for path in ("/channels/engineering", "/users/alice", f"/posts/{created['id']}", "/mentions"):
        html = await (await api.client.get(path)).text()
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, path
        assert "<script>alert" not in html
        assert "<img" not in html
        for tag, attrs in _elements(html):
            assert not any(name.startswith("on") for name in attrs), f"<{tag} {attrs}> on {path}"
            href = attrs.get("href") or ""
            assert not href.lower().startswith("javascript:"), f"{href} on {path}"
        assert '<a class="mention" href="/users/bob"' in html
        assert 'href="https://example.com/x?a=1&amp;b=2"' in html


async def test_too_long_post_is_refused_with_its_reason_and_the_text_kept(api: Api) -> None:
    await _sign_in_with_form(api, "bob")
    token = await _form_token(api, "/channels/engineering")
    text = "x" * 281
    response = await api.client.post("/channels/engineering", data={"text": text, "csrf_token": token})
    assert response.status == 422
    html = await response.text()
    assert "Your post is 281 characters; the limit is 280." in html
    assert f">{text}</textarea>" in html


async def test_private_channel_is_a_404_page_for_others(api: Api) -> None:
    await api.login("alice")
    await api.json(
        "POST",
        "/api/v1/channels",
        "alice",
        status=201,
        json={"name": "secret", "title": "Secret", "visibility": "private"},
    )
    await api.post("alice", "classified", channel="secret")
    await _sign_in_with_form(api, "bob")
    for path in ("/channels/secret", "/channels/no-such-channel"):
        response = await api.client.get(path)
        assert response.status == 404
        assert response.content_type == "text/html"
        html = await response.text()
        assert "not shared with you" in html
        assert "classified" not in html
    assert (await api.client.get("/live/channels/secret")).status == 404


async def test_signed_out_pages_send_to_sign_in_and_back(api: Api) -> None:
    response = await api.client.get("/channels/engineering", allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "/login?next=%2Fchannels%2Fengineering"
    page = await api.client.get("/login?next=/channels/engineering")
    token = _HIDDEN_TOKEN.search(await page.text())
    assert token is not None
    assert 'name="next" value="/channels/engineering"' in await page.text()
    signed_in = await api.client.post(
        "/login",
        data={"username": "bob", "password": "bob-pass", "csrf_token": token.group(1), "next": "https://evil.example/"},
        allow_redirects=False,
    )
    assert signed_in.headers["Location"] == "/", "an outside address is never a redirect target"


async def test_api_errors_stay_problem_json_and_page_errors_are_html(api: Api) -> None:
    assert (await api.client.get("/api/v1/nope")).content_type == "application/problem+json"
    assert (await api.client.get("/api/v1/me")).content_type == "application/problem+json"
    await _sign_in_with_form(api, "bob")
    missing = await api.client.get("/no/such/page")
    assert missing.status == 404
    assert missing.content_type == "text/html"
    assert (await api.client.get("/posts/12345")).status == 404


async def test_reply_follow_and_delete_through_forms(api: Api) -> None:
    await api.login("alice")
    root = await api.post("alice", "root post", channel="engineering")
    await _sign_in_with_form(api, "bob")
    token = await _form_token(api, f"/posts/{root['id']}")
    reply = await api.client.post(
        f"/posts/{root['id']}",
        data={"text": "a reply", "in_reply_to": root["id"], "csrf_token": token},
        allow_redirects=False,
    )
    assert reply.status == 303
    assert reply.headers["Location"].startswith(f"/posts/{root['id']}#post-")
    thread = await (await api.client.get(f"/posts/{root['id']}")).text()
    assert thread.index("root post") < thread.index("a reply")
    assert thread.count("data-post-id=") == 2
    reply_id = reply.headers["Location"].rsplit("-", 1)[1]
    # Bob may delete his reply but not alice's post: only his own carries a delete button.
    assert f'action="/posts/{reply_id}/delete"' in thread
    assert f'action="/posts/{root["id"]}/delete"' not in thread
    refused = await api.client.post(f"/posts/{root['id']}/delete", data={"csrf_token": token})
    assert refused.status == 403
    deleted = await api.client.post(
        f"/posts/{reply_id}/delete", data={"csrf_token": token, "next": "/channels/engineering"}, allow_redirects=False
    )
    assert deleted.status == 303
    assert deleted.headers["Location"] == "/channels/engineering"
    followed = await api.client.post("/users/alice/follow", data={"csrf_token": token}, allow_redirects=False)
    assert followed.status == 303
    assert "Unfollow Alice Archer" in await (await api.client.get("/users/alice")).text()


async def test_direct_messages_are_sent_listed_and_escaped(api: Api) -> None:
    await api.login("alice")
    await _sign_in_with_form(api, "bob")
    assert (await api.client.get("/messages?to=Alice", allow_redirects=False)).headers["Location"] == "/messages/alice"
    token = await _form_token(api, "/messages/alice")
    sent = await api.client.post(
        "/messages/alice", data={"text": f"lunch? {HOSTILE}", "csrf_token": token}, allow_redirects=False
    )
    assert sent.status == 303
    assert sent.headers["Location"].startswith("/messages/alice#message-")
    too_long = await api.client.post("/messages/alice", data={"text": "y" * 281, "csrf_token": token})
    assert too_long.status == 422
    assert "Your post is 281 characters" in await too_long.text()
    conversation = await (await api.client.get("/messages/alice")).text()
    assert conversation.count("data-message-id=") == 1
    assert "lunch? &lt;script&gt;" in conversation
    assert "<script>alert" not in conversation
    inbox = await (await api.client.get("/messages")).text()
    assert 'href="/messages/alice"' in inbox
    assert "You: lunch?" in inbox
    assert (await api.client.get("/messages/bob")).status == 404, "no conversation with oneself"
    assert (await api.client.get("/messages/nobody-here")).status == 404
