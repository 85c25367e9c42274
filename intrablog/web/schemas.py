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
    requires_ack: bool = Field(
        False,
        strict=True,
        description="Ask everyone to acknowledge it. Only a new post in an announcement channel (else 422)",
    )
    urgent: bool = Field(
        False,
        strict=True,
        description="Reaches people in 'do not disturb' on IM. Only a new post in an announcement channel (else 422)",
    )


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
    # "config": set in the config file (changed only there); "api": made through this API.
    source: Literal["config", "api"] = "api"


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
    # The same for every reader; whether *you* acknowledged is GET /api/v1/me/acknowledgements/pending.
    requires_ack: bool = Field(description="An announcement asking everyone to acknowledge it")
    urgent: bool = Field(description="An urgent announcement")


class AcknowledgementOut(_Out):
    post_id: str = Field(pattern=POST_ID_PATTERN)
    username: str
    display_name: str
    department: str | None = Field(description="From the directory (ldap.attributes.department)")
    at: datetime = Field(description="The first acknowledgement; acknowledging again keeps it")
    via: Literal["web", "im"]


class AcknowledgedOut(_Out):
    username: str
    display_name: str
    department: str | None
    at: datetime
    via: Literal["web", "im"]


class PendingAcknowledgementOut(_Out):
    username: str
    display_name: str
    department: str | None


class DepartmentCountOut(_Out):
    department: str = Field(description='The department, or "(none)" for people without one')
    acknowledged: int
    pending: int


class AckReportOut(_Out):
    post_id: str = Field(pattern=POST_ID_PATTERN)
    acknowledged: list[AcknowledgedOut] = Field(description="Oldest first")
    pending: list[PendingAcknowledgementOut] = Field(
        description='Every active person but the author who has not acknowledged, by department ("(none)" '
        "last), then username"
    )
    by_department: list[DepartmentCountOut] = Field(description='By department, "(none)" last')


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
    node: str = Field(description="This process's node id (host, process id, random tag)")
    bridge: Literal["disabled", "standby", "leader"] = Field(
        description="leader: this node runs the XMPP bridge (on PostgreSQL it holds the bridge lock); "
        "standby: another node does, and this one takes over if it dies; disabled: [xmpp] enabled is false"
    )
