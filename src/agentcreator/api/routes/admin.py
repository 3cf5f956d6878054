"""Administration: user accounts and platform settings. Every route requires an administrator."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from agentcreator.api.deps import AdminUser, SessionDep
from agentcreator.api.schemas.users import (
    PlatformSettingsPublic,
    PlatformSettingsUpdate,
    UserPublic,
    UsersPublic,
    UserUpdateAdmin,
)
from agentcreator.services import accounts

router = APIRouter(prefix="/api/admin", tags=["admin"])


@router.get("/users", operation_id="admin_list_users")
async def list_users(
    _: AdminUser, session: SessionDep,
    q: Annotated[str | None, Query(max_length=200, description="Part of an email or name")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> UsersPublic:
    users, count = await accounts.list_users(session, q=q, limit=limit, offset=offset)
    return UsersPublic(data=[UserPublic.model_validate(u) for u in users], count=count)


@router.patch("/users/{user_id}", operation_id="admin_update_user")
async def update_user(user_id: str, body: UserUpdateAdmin, admin: AdminUser, session: SessionDep) -> UserPublic:
    user = await accounts.admin_update_user(session, admin, user_id, name=body.name, is_admin=body.is_admin,
                                            is_disabled=body.is_disabled)
    return UserPublic.model_validate(user)


@router.get("/settings", operation_id="admin_get_settings")
async def get_settings(_: AdminUser, session: SessionDep) -> PlatformSettingsPublic:
    current = await accounts.get_platform_settings(session)
    return PlatformSettingsPublic(registration_open=current.registration_open)


@router.patch("/settings", operation_id="admin_update_settings")
async def update_settings(body: PlatformSettingsUpdate, _: AdminUser, session: SessionDep) -> PlatformSettingsPublic:
    current = await accounts.update_platform_settings(session, registration_open=body.registration_open)
    return PlatformSettingsPublic(registration_open=current.registration_open)
