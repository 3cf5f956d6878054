"""Administration: user accounts and platform settings. Every route requires an administrator."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from agentcreator.api.deps import AdminUser, AppStateDep, SessionDep
from agentcreator.api.schemas.users import (
    PlatformSettingsPublic,
    PlatformSettingsUpdate,
    UserPublic,
    UsersPublic,
    UserUpdateAdmin,
)
from agentcreator.services import accounts, fair_use

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


async def _settings_public(state: AppStateDep, session: SessionDep, registration_open: bool) -> PlatformSettingsPublic:
    limits = await fair_use.load_limits(session, state.settings.fair_use)
    return PlatformSettingsPublic(registration_open=registration_open, max_concurrent_turns=limits.max_concurrent_turns,
                                  turns_per_minute=limits.turns_per_minute)


@router.get("/settings", operation_id="admin_get_settings")
async def get_settings(_: AdminUser, state: AppStateDep, session: SessionDep) -> PlatformSettingsPublic:
    current = await accounts.get_platform_settings(session)
    return await _settings_public(state, session, current.registration_open)


@router.patch("/settings", operation_id="admin_update_settings")
async def update_settings(body: PlatformSettingsUpdate, _: AdminUser, state: AppStateDep,
                          session: SessionDep) -> PlatformSettingsPublic:
    if body.max_concurrent_turns is not None or body.turns_per_minute is not None:
        await fair_use.save_limits(session, state.settings.fair_use, max_concurrent_turns=body.max_concurrent_turns,
                                   turns_per_minute=body.turns_per_minute)
    current = await accounts.update_platform_settings(session, registration_open=body.registration_open)
    state.fair_use.invalidate()
    return await _settings_public(state, session, current.registration_open)
