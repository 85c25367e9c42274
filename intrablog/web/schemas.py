"""The API's request and response bodies. The same models validate input, render output and feed OpenAPI."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from intrablog.config import CHANNEL_NAME_PATTERN
from intrablog.domain.rules import MAX_DESCRIPTION_CHARS, MAX_TITLE_CHARS

POST_ID_PATTERN = r"^[0-9]{1,19}$"


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


# -- requests -------------------------------------------------------------------------------------------


class LoginRequest(BaseModel):
    username: str = Field(description="Directory login name (or what the directory accepts, e.g. a UPN)")
    password: str = Field(description="Directory password")


class ChannelCreateRequest(BaseModel):
    # The rules are documented here and enforced by the domain, whose messages say what to fix.
    name: str = Field(
        description="2-32 characters of a-z, 0-9 and '-'; becomes the channel's XMPP address",
        json_schema_extra={"pattern": CHANNEL_NAME_PATTERN},
    )
    title: str = Field(description="Not blank", json_schema_extra={"maxLength": MAX_TITLE_CHARS})
    kind: Literal["team", "project", "announcement"] = "team"
    visibility: Literal["public", "private"] = "public"
    description: str = Field("", json_schema_extra={"maxLength": MAX_DESCRIPTION_CHARS})


class PostCreateRequest(BaseModel):
    text: str
    channel: str | None = Field(None, description="Channel name; omitted for a personal update")
    in_reply_to: str | None = Field(None, pattern=POST_ID_PATTERN, description="Id of the post answered")


# -- responses ------------------------------------------------------------------------------------------


class UserSummary(_Out):
    username: str
    display_name: str


class UserOut(_Out):
    username: str
    display_name: str
    email: str | None
    xmpp_address: str | None
    active: bool
    is_site_admin: bool
    created_at: datetime
    url: str


class ProfileOut(UserOut):
    followers: int
    following: int
    followed_by_me: bool


class LoginResponse(_Out):
    token: str
    expires_at: datetime
    csrf_token: str = Field(description="Send as X-CSRF-Token with state-changing requests that use the cookie")
    user: UserOut


class ChannelOut(_Out):
    name: str
    title: str
    description: str
    kind: Literal["team", "project", "announcement"]
    visibility: Literal["public", "private"]
    created_at: datetime
    url: str


class ChannelDetail(ChannelOut):
    member_count: int
    my_role: Literal["member", "poster", "admin"] | None
    following: bool


class MemberOut(_Out):
    username: str
    display_name: str
    role: Literal["member", "poster", "admin"]
    since: datetime
    source: Literal["manual", "group"] = Field(
        description="group: a bound directory group carries the membership (the directory sync manages it)"
    )


class GroupBindingRequest(BaseModel):
    group: str = Field(
        description="The directory group's name (cn) or DN, case-insensitive",
        json_schema_extra={"minLength": 1, "maxLength": 1024},
    )
    role: Literal["member", "poster", "admin"] = "member"


class GroupBindingOut(_Out):
    channel: str
    group: str
    role: Literal["member", "poster", "admin"]


class PostOut(_Out):
    id: str = Field(pattern=POST_ID_PATTERN)
    text: str
    author: UserSummary
    channel: str | None
    in_reply_to: str | None
    thread_root: str
    created_at: datetime
    edited_at: datetime | None
    url: str
    mentions: list[str]
    tags: list[str]
    links: list[str]


class FieldErrorOut(_Out):
    field: str
    reason: str


class Problem(_Out):
    type: str
    title: str
    status: int
    detail: str
    request_id: str | None = None
    errors: list[FieldErrorOut] | None = None


class HealthOut(_Out):
    status: Literal["ok", "degraded"]
    database: str
    directory: str
