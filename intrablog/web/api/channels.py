"""Channels: list, create, show, members, follow and leave; binding them to directory groups."""

from __future__ import annotations

from aiohttp import web

from intrablog.services.channels import NewChannel
from intrablog.web.inputs import path_text, read_json
from intrablog.web.keys import SERVICES, WEB_SETTINGS
from intrablog.web.middlewares import identity
from intrablog.web.render import binding_out, channel_detail, channel_out, json_response, member_out
from intrablog.web.routing import api
from intrablog.web.schemas import (
    ChannelCreateRequest,
    ChannelDetail,
    ChannelOut,
    GroupBindingOut,
    GroupBindingRequest,
    MemberOut,
)


@api.route(
    "GET",
    "/api/v1/channels",
    summary="Channels you can see: every public one and the private ones you belong to",
    tag="channels",
    response=ChannelOut,
    response_is_list=True,
)
async def list_channels(request: web.Request) -> web.StreamResponse:
    channels = await request.app[SERVICES].channels.list_visible(identity(request).user)
    public_url = request.app[WEB_SETTINGS].public_url
    return json_response([channel_out(channel, public_url) for channel in channels])


@api.route(
    "POST",
    "/api/v1/channels",
    summary="Create a channel (announcement channels: site admins only)",
    tag="channels",
    status=201,
    body=ChannelCreateRequest,
    response=ChannelDetail,
    errors=(403, 409),
)
async def create_channel(request: web.Request) -> web.StreamResponse:
    data = await read_json(request, ChannelCreateRequest)
    view = await request.app[SERVICES].channels.create(
        identity(request).user,
        NewChannel(data.name, data.title, data.kind, data.visibility, data.description),
    )
    response = json_response(channel_detail(view, request.app[WEB_SETTINGS].public_url), status=201)
    response.headers["Location"] = f"/api/v1/channels/{view.channel.name}"
    return response


@api.route(
    "GET",
    "/api/v1/channels/{name}",
    summary="One channel; a private channel you may not see is 404, like one that does not exist",
    tag="channels",
    response=ChannelDetail,
    errors=(404,),
)
async def show_channel(request: web.Request) -> web.StreamResponse:
    view = await request.app[SERVICES].channels.show(identity(request).user, path_text(request, "name"))
    return json_response(channel_detail(view, request.app[WEB_SETTINGS].public_url))


@api.route(
    "GET",
    "/api/v1/channels/{name}/members",
    summary="A channel's members and their roles",
    tag="channels",
    response=MemberOut,
    response_is_list=True,
    errors=(404,),
)
async def channel_members(request: web.Request) -> web.StreamResponse:
    members = await request.app[SERVICES].channels.members(identity(request).user, path_text(request, "name"))
    return json_response([member_out(member) for member in members])


@api.route(
    "POST",
    "/api/v1/channels/{name}/follow",
    summary="Follow a channel (following a public channel makes you a member)",
    tag="channels",
    response=ChannelDetail,
    errors=(404,),
)
async def follow_channel(request: web.Request) -> web.StreamResponse:
    view = await request.app[SERVICES].channels.follow(identity(request).user, path_text(request, "name"))
    return json_response(channel_detail(view, request.app[WEB_SETTINGS].public_url))


@api.route(
    "DELETE",
    "/api/v1/channels/{name}/follow",
    summary="Stop following a channel (announcement channels cannot be left)",
    tag="channels",
    response=ChannelDetail,
    errors=(403, 404),
)
async def unfollow_channel(request: web.Request) -> web.StreamResponse:
    view = await request.app[SERVICES].channels.unfollow(identity(request).user, path_text(request, "name"))
    return json_response(channel_detail(view, request.app[WEB_SETTINGS].public_url))


@api.route(
    "GET",
    "/api/v1/channels/{name}/groups",
    summary="The directory groups bound to a channel, with the role each gives",
    description=(
        "Bindings from the config file (`source: config`) and from this API (`source: api`). Readable by "
        "whoever may read the channel; a private channel answers 404 to everyone else."
    ),
    tag="channels",
    response=GroupBindingOut,
    response_is_list=True,
    errors=(404,),
)
async def channel_groups(request: web.Request) -> web.StreamResponse:
    views = await request.app[SERVICES].group_bindings.of_channel(identity(request).user, path_text(request, "name"))
    return json_response([binding_out(view) for view in views])


@api.route(
    "POST",
    "/api/v1/channels/{name}/groups",
    summary="Bind a directory group to a channel with a role (site admins only)",
    description=(
        "The group's members (as the last directory sync listed them) become members and followers with the "
        "role at once; the next syncs keep it so. Binding a bound group again changes its role."
    ),
    tag="channels",
    status=201,
    body=GroupBindingRequest,
    response=GroupBindingOut,
    errors=(403, 404),
)
async def bind_group(request: web.Request) -> web.StreamResponse:
    data = await read_json(request, GroupBindingRequest)
    view = await request.app[SERVICES].group_bindings.bind(
        identity(request).user, path_text(request, "name"), data.group, data.role
    )
    return json_response(binding_out(view), status=201)


@api.route(
    "DELETE",
    "/api/v1/channels/{name}/groups/{group}",
    summary="Unbind a directory group from a channel (site admins only)",
    description=(
        "The memberships the group carried end at once, with their follows, unless another bound group "
        "carries them; manual memberships stay. A binding of the config file cannot be removed here (409)."
    ),
    tag="channels",
    status=204,
    errors=(403, 404, 409),
)
async def unbind_group(request: web.Request) -> web.StreamResponse:
    await request.app[SERVICES].group_bindings.unbind(
        identity(request).user, path_text(request, "name"), path_text(request, "group")
    )
    return web.Response(status=204)
