"""Authentication schemas. Password rules that depend on settings are checked by the service."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, BaseModel, EmailStr, Field

from agentcreator.api.schemas.common import StrictInput
from agentcreator.api.schemas.users import UserName, UserPublic

# A generous ceiling: hashing a megabyte-long "password" would be a cheap denial of service.
MAX_PASSWORD_LENGTH = 1024

class RegisterRequest(StrictInput):
    name: UserName
    email: EmailStr = Field(max_length=320)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)
    confirm_password: str = Field(
        max_length=MAX_PASSWORD_LENGTH,
        validation_alias=AliasChoices("confirmPassword", "confirm_password"),
    )

class LoginRequest(StrictInput):
    # A plain string: a malformed address is simply an unknown account (401, not 422).
    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)

class RefreshRequest(StrictInput):
    refresh_token: str = Field(min_length=1, max_length=512)

class PasswordChangeRequest(StrictInput):
    current_password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)
    new_password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)
    confirm_password: str = Field(
        max_length=MAX_PASSWORD_LENGTH,
        validation_alias=AliasChoices("confirm_password", "confirmPassword"),
    )

class TokenPair(BaseModel):
    user: UserPublic
    access_token: str
    refresh_token: str | None = Field(description="Also set in the HttpOnly ac_refresh cookie; null when the "
                                      "refresh came by that cookie (the web app never sees it)")
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Lifetime of the access token, in seconds")

class RegistrationAccepted(BaseModel):
    """The same answer whether or not the email already had an account (docs/security.md)."""

    status: Literal["created", "pending_approval"] = Field(
        description="created: sign in now; pending_approval: sign in once an administrator approved the account")
    message: str


class AuthOptions(BaseModel):
    registration_open: bool
    registration_requires_approval: bool = False
    password_min_length: int
    # True while no account exists: the next registration becomes the administrator.
    first_account_admin: bool = False
