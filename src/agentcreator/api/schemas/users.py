"""User schemas: the public shape of an account, the profile update, and the admin views."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

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
    max_concurrent_turns: int = Field(description="Answers one user may have running at once")
    turns_per_minute: int = Field(description="Turns one user may start per minute")


class PlatformSettingsUpdate(StrictInput):
    registration_open: bool | None = Field(None, description="Allow anyone to create an account")
    max_concurrent_turns: int | None = Field(None, ge=1, le=1000)
    turns_per_minute: int | None = Field(None, ge=1, le=100_000)
