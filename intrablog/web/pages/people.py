"""A person's page: their profile from the directory, follow or unfollow, and their posts."""

from __future__ import annotations

from aiohttp import web

from intrablog.web.inputs import page_request, path_text
from intrablog.web.keys import SERVICES
from intrablog.web.pages.base import ComposeState, Reader, post_list, reader, render, see_other
from intrablog.web.pages.compose import submit_post


async def _person(request: web.Request, who: Reader, compose: ComposeState, status: int = 200) -> web.StreamResponse:
    services = request.app[SERVICES]
    username = path_text(request, "username")
    profile = await services.people.profile(who.user, username)
    page = await services.timelines.person(who.user, username, page_request(request))
    is_me = profile.user.id == who.user.id
    if not is_me and not compose.text and not compose.error:
        # On a colleague's page an update naturally addresses them; it goes to the writer's own profile.
        compose = ComposeState(text=f"@{profile.user.username} ")
    context = {
        "nav": "me" if is_me else "",
        "profile": profile,
        "is_me": is_me,
        "compose": compose,
        **await post_list(request, who, page, f"/live/users/{profile.user.username}"),
    }
    return render(request, "person.html", context, status, who)


async def person_page(request: web.Request) -> web.StreamResponse:
    return await _person(request, reader(request), ComposeState())


async def person_post(request: web.Request) -> web.StreamResponse:
    who = reader(request)

    async def again(state: ComposeState, status: int) -> web.StreamResponse:
        return await _person(request, who, state, status)

    # A personal update lands on its writer's page, so that is where the writer goes to see it.
    return await submit_post(request, who, None, again, lambda _: f"/users/{who.user.username}")


async def follow_person(request: web.Request) -> web.StreamResponse:
    username = path_text(request, "username")
    await request.app[SERVICES].people.follow_user(reader(request).user, username)
    return see_other(f"/users/{username}")


async def unfollow_person(request: web.Request) -> web.StreamResponse:
    username = path_text(request, "username")
    await request.app[SERVICES].people.unfollow_user(reader(request).user, username)
    return see_other(f"/users/{username}")
