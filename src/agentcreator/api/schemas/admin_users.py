"""Schemas of the administrators' account actions and the one-time links: UserCreateAdmin, InviteCreate,
AccountLinkPublic, UserDeleteConfirm, AuditEventPublic, AuditEventsPublic, LinkInfoPublic,
InviteRedeem, ResetRedeem."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StrictBool

from agentcreator.api.schemas.auth import MAX_PASSWORD_LENGTH
from agentcreator.api.schemas.common import Page, StrictInput
from agentcreator.api.schemas.users import UserName

Password = Annotated[str, Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)]


class UserCreateAdmin(StrictInput):
    name: UserName
    email: EmailStr = Field(max_length=320)
    password: Password
    is_admin: StrictBool = False


class InviteCreate(StrictInput):
    # The email the new account must use; absent: the person chooses.
    email: EmailStr | None = Field(None, max_length=320)


class AccountLinkPublic(BaseModel):
    """A one-time link for the administrator to pass on: the web app's page is ``path``."""

    purpose: Literal["invite", "reset"]
    path: str
    email: str | None
    expires_at: datetime


class UserDeleteConfirm(StrictInput):
    # The account's email, typed again.
    confirm_email: str = Field(min_length=1, max_length=320)


class AuditEventPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    actor_email: str
    action: str
    target_email: str | None
    detail: dict[str, Any] | None
    created_at: datetime


class AuditEventsPublic(Page[AuditEventPublic]):
    pass


class LinkInfoPublic(BaseModel):
    purpose: Literal["invite", "reset"]
    email: str | None
    expires_at: datetime


class InviteRedeem(StrictInput):
    name: UserName
    email: EmailStr = Field(max_length=320)
    password: Password


class ResetRedeem(StrictInput):
    password: Password
