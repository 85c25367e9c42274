"""The pages' addresses. Others rely on these (see issue 5): home ``/``, sign-in ``/login``, channel
``/channels/{name}``, person ``/users/{username}``, thread ``/posts/{id}``."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from intrablog.domain.im import DirectMessage
from intrablog.domain.model import Post
from intrablog.web.keys import HTML_ERRORS
from intrablog.web.live_frames import Renderers
from intrablog.web.pages import acks, admin, channels, messages, people, posts, session, timelines
from intrablog.web.pages.errors import error_page
from intrablog.web.pages.views import message_fragment, post_fragment

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


def _static_url_function() -> Callable[[str], str]:
    # A content hash in the URL: browsers may cache the files forever and still get each new version.
    versions = {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()[:12] for path in STATIC_DIR.iterdir() if path.is_file()
    }

    def static_url(name: str) -> str:
        return f"/static/{name}?v={versions.get(name, '0')}"

    return static_url


def install(app: web.Application) -> jinja2.Environment:
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.PackageLoader("intrablog.web", "templates"),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["static_url"] = _static_url_function()
    env.globals["messages_enabled"] = True
    app[HTML_ERRORS] = error_page
    router = app.router
    router.add_static("/static", STATIC_DIR, name="static")
    router.add_get("/login", session.login_page)
    router.add_post("/login", session.login_submit)
    router.add_post("/logout", session.logout)
    router.add_get("/", timelines.home)
    router.add_post("/", timelines.home_post)
    router.add_get("/mentions", timelines.mentions)
    router.add_post("/mentions", timelines.mentions_post)
    router.add_get("/channels", channels.channel_list)
    router.add_get("/channels/{name}", channels.channel_page)
    router.add_post("/channels/{name}", channels.channel_post)
    router.add_post("/channels/{name}/follow", channels.follow_channel)
    router.add_post("/channels/{name}/leave", channels.leave_channel)
    router.add_get("/users/{username}", people.person_page)
    router.add_post("/users/{username}", people.person_post)
    router.add_post("/users/{username}/follow", people.follow_person)
    router.add_post("/users/{username}/unfollow", people.unfollow_person)
    router.add_get("/posts/{id}", posts.thread_page)
    router.add_post("/posts/{id}", posts.thread_reply)
    router.add_post("/posts/{id}/delete", posts.delete_post)
    router.add_post("/posts/{id}/ack", acks.acknowledge)
    router.add_get("/posts/{id}/acks", acks.report_page)
    router.add_get("/messages", messages.inbox)
    router.add_get("/messages/{username}", messages.conversation)
    router.add_post("/messages/{username}", messages.send)
    router.add_get("/admin/audit", admin.audit_page)
    return env


def fragment_renderers(env: jinja2.Environment) -> Renderers:
    """The live stream's renderers: a post or a direct message exactly as the pages show it."""

    def render_post(post: Post, can_delete: bool) -> str:
        return post_fragment(env, post, can_delete)

    def render_message(message: DirectMessage) -> str:
        return message_fragment(env, message)

    return Renderers(post=render_post, message=render_message)
