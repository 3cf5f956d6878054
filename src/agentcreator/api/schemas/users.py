"""User schemas: the public shape of an account, the profile update, and the admin views."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from agentcreator.api.schemas.common import Page, StrictInput

# Display names: surrounding whitespace dropped, never empty, at most 200 characters.
UserName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class UserPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    email: str
    name: str
    is_admin: bool
    is_disabled: bool
    is_pending: bool = Field(False, description="Registered while approval was required; cannot sign in yet")
    created_at: datetime
    last_login_at: datetime | None = None


class UsersPublic(Page[UserPublic]):
    pass


class UserUpdateMe(StrictInput):
    name: UserName


class UserUpdateAdmin(StrictInput):
    name: UserName | None = None
    is_admin: bool | None = None
    is_disabled: bool | None = None


class PlatformSettingsPublic(BaseModel):
    registration_open: bool
    registration_requires_approval: bool = Field(description="New accounts wait for an administrator's approval")
    max_concurrent_turns: int = Field(description="Answers one user may have running at once")
    turns_per_minute: int = Field(description="Turns one user may start per minute")
    uploads_per_minute: int = Field(description="Files one user may upload per minute")


class PlatformSettingsUpdate(StrictInput):
    registration_open: bool | None = Field(None, description="Allow anyone to create an account")
    registration_requires_approval: bool | None = Field(
        None, description="New accounts from registration cannot sign in until an administrator approves them")
    max_concurrent_turns: int | None = Field(None, ge=1, le=1000)
    turns_per_minute: int | None = Field(None, ge=1, le=100_000)
    uploads_per_minute: int | None = Field(None, ge=1, le=100_000)


class AccountNoticePublic(BaseModel):
    """Something that happened to the account that its owner should know (shown at sign-in)."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    kind: str = Field(description="registration_attempt: someone tried to register with this account's email")
    detail: dict[str, Any] | None
    created_at: datetime


class AccountNoticesPublic(Page[AccountNoticePublic]):
    pass
