"""Administration: user accounts (edit, create, invite, reset link, delete), the audit log and platform
settings. Every route requires an administrator."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from agentcreator.api.deps import AdminUser, AppStateDep, SessionDep, file_service_of
from agentcreator.api.schemas.admin_users import (
    AccountLinkPublic,
    AuditEventPublic,
    AuditEventsPublic,
    InviteCreate,
    UserCreateAdmin,
    UserDeleteConfirm,
)
from agentcreator.api.schemas.users import (
    PlatformSettingsPublic,
    PlatformSettingsUpdate,
    UserPublic,
    UsersPublic,
    UserUpdateAdmin,
)
from agentcreator.repositories import conversations as conversation_repo
from agentcreator.services import accounts, admin_users, fair_use
from agentcreator.services.files import files_of_user
from agentcreator.tools.code_interpreter import conversation_session_key

router = APIRouter(prefix="/api/admin", tags=["admin"])


@router.get("/users", operation_id="admin_list_users")
async def list_users(
    _: AdminUser, session: SessionDep,
    q: Annotated[str | None, Query(max_length=200, description="Part of an email or name")] = None,
    pending: Annotated[bool | None, Query(description="Only accounts waiting for approval (true) or the others")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> UsersPublic:
    users, count = await accounts.list_users(session, q=q, limit=limit, offset=offset, pending=pending)
    return UsersPublic(data=[UserPublic.model_validate(u) for u in users], count=count)


@router.patch("/users/{user_id}", operation_id="admin_update_user")
async def update_user(user_id: str, body: UserUpdateAdmin, admin: AdminUser, session: SessionDep) -> UserPublic:
    user = await accounts.admin_update_user(session, admin, user_id, name=body.name, is_admin=body.is_admin,
                                            is_disabled=body.is_disabled)
    return UserPublic.model_validate(user)


async def _settings_public(state: AppStateDep, session: SessionDep,
                           current: accounts.PlatformSettings) -> PlatformSettingsPublic:
    limits = await fair_use.load_limits(session, state.settings.fair_use)
    return PlatformSettingsPublic(registration_open=current.registration_open,
                                  registration_requires_approval=current.registration_requires_approval,
                                  max_concurrent_turns=limits.max_concurrent_turns,
                                  turns_per_minute=limits.turns_per_minute,
                                  uploads_per_minute=limits.uploads_per_minute)


@router.get("/settings", operation_id="admin_get_settings")
async def get_settings(_: AdminUser, state: AppStateDep, session: SessionDep) -> PlatformSettingsPublic:
    current = await accounts.get_platform_settings(session)
    return await _settings_public(state, session, current)


@router.patch("/settings", operation_id="admin_update_settings")
async def update_settings(body: PlatformSettingsUpdate, _: AdminUser, state: AppStateDep,
                          session: SessionDep) -> PlatformSettingsPublic:
    if body.max_concurrent_turns is not None or body.turns_per_minute is not None \
            or body.uploads_per_minute is not None:
        await fair_use.save_limits(session, state.settings.fair_use, max_concurrent_turns=body.max_concurrent_turns,
                                   turns_per_minute=body.turns_per_minute, uploads_per_minute=body.uploads_per_minute)
    current = await accounts.update_platform_settings(
        session, registration_open=body.registration_open,
        registration_requires_approval=body.registration_requires_approval)
    state.fair_use.invalidate()
    return await _settings_public(state, session, current)



def _link(link: admin_users.IssuedLink) -> AccountLinkPublic:
    return AccountLinkPublic(purpose=link.purpose, path=f"/account-link/{link.token}", email=link.email,
                             expires_at=link.expires_at)


@router.post("/users", operation_id="admin_create_user", status_code=status.HTTP_201_CREATED)
async def create_user(body: UserCreateAdmin, admin: AdminUser, state: AppStateDep,
                      session: SessionDep) -> UserPublic:
    user = await admin_users.create_user(state, session, admin, email=body.email, name=body.name,
                                         password=body.password, is_admin=body.is_admin)
    return UserPublic.model_validate(user)


@router.post("/invites", operation_id="admin_invite_user", status_code=status.HTTP_201_CREATED)
async def invite_user(body: InviteCreate, admin: AdminUser, state: AppStateDep,
                      session: SessionDep) -> AccountLinkPublic:
    """A one-time link that creates an account (registration open or closed), to pass on."""
    return _link(await admin_users.invite(state, session, admin, email=body.email))


@router.post("/users/{user_id}/reset-link", operation_id="admin_password_reset_link",
             status_code=status.HTTP_201_CREATED)
async def password_reset_link(user_id: str, admin: AdminUser, state: AppStateDep,
                              session: SessionDep) -> AccountLinkPublic:
    """A one-time link to set a new password (no email is sent: the administrator passes it on)."""
    return _link(await admin_users.reset_link(state, session, admin, user_id))


@router.post("/users/{user_id}/approve", operation_id="admin_approve_user")
async def approve_user(user_id: str, admin: AdminUser, session: SessionDep) -> UserPublic:
    """Let an account that registered while approval was required sign in (409 if it is not waiting)."""
    return UserPublic.model_validate(await admin_users.approve(session, admin, user_id))


@router.post("/users/{user_id}/decline", operation_id="admin_decline_user", status_code=status.HTTP_204_NO_CONTENT)
async def decline_user(user_id: str, admin: AdminUser, session: SessionDep) -> Response:
    """Delete an account that is waiting for approval (409 if it is not waiting)."""
    await admin_users.decline(session, admin, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete("/users/{user_id}", operation_id="admin_delete_user", status_code=status.HTTP_204_NO_CONTENT)
async def delete_user(user_id: str, body: UserDeleteConfirm, admin: AdminUser, session: SessionDep,
                      state: AppStateDep) -> Response:
    """Delete the account and everything it owns; ``confirm_email`` repeats its email. Its files leave
    the disk too, and its code interpreter sessions end."""
    doomed = await files_of_user(session, user_id)
    conversation_ids = await conversation_repo.ids_of_owner(session, user_id)
    await admin_users.delete_user(session, admin, user_id, confirm_email=body.confirm_email)  # rows by FK
    await file_service_of(state).discard_unused(doomed)
    for conversation_id in conversation_ids:
        await state.sandbox.end_session(conversation_session_key(conversation_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/audit", operation_id="admin_audit_log")
async def audit_log(_: AdminUser, session: SessionDep, limit: Annotated[int, Query(ge=1, le=200)] = 50,
                    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> AuditEventsPublic:
    events, count = await admin_users.audit_log(session, limit=limit, offset=offset)
    return AuditEventsPublic(data=[AuditEventPublic.model_validate(e) for e in events], count=count)
