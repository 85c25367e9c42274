"""Domain objects → API bodies (through the response models, so output always matches the OpenAPI schema)."""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp import web
from pydantic import BaseModel

from intrablog.domain.model import Channel, MemberView, Page, Post, User
from intrablog.services.channels import ChannelView
from intrablog.services.group_roles import BindingView
from intrablog.services.people import Profile
from intrablog.web.keys import WEB_SETTINGS
from intrablog.web.schemas import (
    ChannelDetail,
    ChannelOut,
    GroupBindingOut,
    MemberOut,
    PostOut,
    ProfileOut,
    UserOut,
    UserSummary,
)


def json_response(body: BaseModel | Sequence[BaseModel], status: int = 200) -> web.Response:
    if isinstance(body, BaseModel):
        text = body.model_dump_json()
    else:
        text = "[" + ",".join(item.model_dump_json() for item in body) + "]"
    return web.Response(text=text, status=status, content_type="application/json")


def post_out(post: Post, public_url: str) -> PostOut:
    return PostOut(
        id=str(post.id),
        text=post.text,
        author=UserSummary(username=post.author.username, display_name=post.author.display_name),
        channel=post.channel_name,
        in_reply_to=str(post.in_reply_to) if post.in_reply_to is not None else None,
        thread_root=str(post.thread_root),
        created_at=post.created_at,
        edited_at=post.edited_at,
        url=f"{public_url}/posts/{post.id}",
        mentions=list(post.mentions),
        tags=list(post.tags),
        links=list(post.links),
        requires_ack=post.requires_ack,
        urgent=post.urgent,
    )


def user_out(user: User, public_url: str) -> UserOut:
    return UserOut(
        username=user.username,
        display_name=user.display_name,
        email=user.email,
        xmpp_address=user.xmpp_address,
        active=user.active,
        is_site_admin=user.is_site_admin,
        created_at=user.created_at,
        url=f"{public_url}/users/{user.username}",
    )


def profile_out(profile: Profile, public_url: str) -> ProfileOut:
    base = user_out(profile.user, public_url)
    return ProfileOut(
        **base.model_dump(),
        followers=profile.followers,
        following=profile.following,
        followed_by_me=profile.followed_by_me,
    )


def channel_out(channel: Channel, public_url: str) -> ChannelOut:
    return ChannelOut(
        name=channel.name,
        title=channel.title,
        description=channel.description,
        kind=channel.kind.value,
        visibility=channel.visibility.value,
        created_at=channel.created_at,
        url=f"{public_url}/channels/{channel.name}",
    )


def channel_detail(view: ChannelView, public_url: str) -> ChannelDetail:
    return ChannelDetail(
        **channel_out(view.channel, public_url).model_dump(),
        member_count=view.member_count,
        my_role=view.my_role.value if view.my_role else None,
        following=view.following,
    )


def member_out(member: MemberView) -> MemberOut:
    return MemberOut(
        username=member.username,
        display_name=member.display_name,
        role=member.role.value,
        since=member.since,
        source=member.source.value,
    )


def paged_response(request: web.Request, items: Sequence[BaseModel], next_before: int | None) -> web.Response:
    """A page of a list, with an RFC 8288 ``Link: <...>; rel="next"`` header when there may be more."""
    response = json_response(items)
    if next_before is not None:
        query = dict(request.query)
        query["before"] = str(next_before)
        query.setdefault("limit", str(len(items)))
        next_url = request.rel_url.with_query(query)
        response.headers["Link"] = f'<{request.app[WEB_SETTINGS].public_url}{next_url}>; rel="next"'
    return response


def post_page(request: web.Request, page: Page[Post]) -> web.Response:
    public_url = request.app[WEB_SETTINGS].public_url
    return paged_response(request, [post_out(post, public_url) for post in page.items], page.next_before)


def binding_out(view: BindingView) -> GroupBindingOut:
    return GroupBindingOut(channel=view.channel, group=view.group, role=view.role.value, source=view.source)
