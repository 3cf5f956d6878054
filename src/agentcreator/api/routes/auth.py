"""Sign-up, sign-in, token refresh, sign-out, the current user's account, and the one-time links an
administrator hands out (invite, password reset)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request, Response, status

from agentcreator.api.auth_cookies import (
    clear_session_cookies,
    refresh_token_from_cookie,
    set_session_cookies,
)
from agentcreator.api.deps import AppStateDep, ClientAddress, CurrentSessionId, CurrentUser, SessionDep
from agentcreator.api.schemas.admin_users import InviteRedeem, LinkInfoPublic, ResetRedeem
from agentcreator.api.schemas.auth import (
    AuthOptions,
    LoginRequest,
    PasswordChangeRequest,
    RefreshRequest,
    RegisterRequest,
    RegistrationAccepted,
    TokenPair,
)
from agentcreator.api.schemas.users import AccountNoticePublic, AccountNoticesPublic, UserPublic, UserUpdateMe
from agentcreator.services import accounts, admin_users
from agentcreator.services import auth as auth_service
from agentcreator.services.auth import ClientInfo, IssuedTokens

router = APIRouter(prefix="/api/auth", tags=["auth"])

UserAgent = Annotated[str | None, Header()]


def _pair(issued: IssuedTokens, state: AppStateDep, request: Request, response: Response, *,
          cookie_only: bool = False) -> TokenPair:
    """The tokens in the body, and the refresh token in its cookie too (api/auth_cookies.py)."""
    set_session_cookies(response, request, issued.refresh_token,
                        max_age=state.settings.auth.refresh_token_days * 86400,
                        trust_forwarded_proto=state.settings.auth.trust_forwarded_for)
    return TokenPair(user=UserPublic.model_validate(issued.user), access_token=issued.access_token,
                     refresh_token=None if cookie_only else issued.refresh_token, expires_in=issued.expires_in)


@router.get("/options", operation_id="auth_options")
async def options(state: AppStateDep, session: SessionDep) -> AuthOptions:
    return AuthOptions(registration_open=await accounts.registration_open(session),
                       registration_requires_approval=await accounts.approval_required(session),
                       password_min_length=state.settings.auth.password_min_length,
                       first_account_admin=not await accounts.any_account(session))


@router.post("/register", status_code=status.HTTP_202_ACCEPTED, operation_id="auth_register")
async def register(body: RegisterRequest, state: AppStateDep, session: SessionDep, address: ClientAddress,
                   user_agent: UserAgent = None) -> RegistrationAccepted:
    """Ask for an account. No tokens: sign in afterwards (``created``) or once an administrator approved
    the account (``pending_approval``). The answer is the same whether or not the email already has an
    account; that account's owner finds a notice at their next sign-in (GET /api/auth/notices)."""
    result = await accounts.register(
        state, session, name=body.name, email=body.email, password=body.password,
        confirm_password=body.confirm_password, client=ClientInfo(address, user_agent),
    )
    return RegistrationAccepted(status=result, message=accounts.REGISTRATION_MESSAGES[result])


@router.post("/login", operation_id="auth_login")
async def login(body: LoginRequest, state: AppStateDep, session: SessionDep, address: ClientAddress,
                request: Request, response: Response, user_agent: UserAgent = None) -> TokenPair:
    issued = await auth_service.login(state, session, email=body.email, password=body.password,
                                      client=ClientInfo(address, user_agent))
    return _pair(issued, state, request, response)


@router.post("/refresh", operation_id="auth_refresh")
async def refresh(state: AppStateDep, session: SessionDep, request: Request, response: Response,
                  body: RefreshRequest | None = None) -> TokenPair:
    """Rotate the refresh token: from the body (API clients), or from the ``ac_refresh`` cookie with an
    ``X-CSRF-Token`` header equal to the ``ac_csrf`` cookie (the web app; the body then has no
    refresh token)."""
    by_cookie = body is None
    token = refresh_token_from_cookie(request) if by_cookie else body.refresh_token
    return _pair(await auth_service.refresh(state, session, token), state, request, response, cookie_only=by_cookie)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, operation_id="auth_logout")
async def logout(session: SessionDep, session_id: CurrentSessionId) -> Response:
    await auth_service.logout(session, session_id)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    clear_session_cookies(response)
    return response


@router.post("/logout-all", status_code=status.HTTP_204_NO_CONTENT, operation_id="auth_logout_all")
async def logout_all(session: SessionDep, user: CurrentUser) -> Response:
    await auth_service.logout_all(session, user)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    clear_session_cookies(response)
    return response


@router.get("/me", operation_id="auth_me")
async def me(user: CurrentUser) -> UserPublic:
    return UserPublic.model_validate(user)


@router.patch("/me", operation_id="auth_update_me")
async def update_me(body: UserUpdateMe, session: SessionDep, user: CurrentUser) -> UserPublic:
    return UserPublic.model_validate(await accounts.update_profile(session, user, name=body.name))


@router.get("/notices", operation_id="auth_list_notices")
async def list_notices(session: SessionDep, user: CurrentUser) -> AccountNoticesPublic:
    """What happened to this account that its owner should know (not dismissed yet), newest first."""
    notices = await accounts.open_notices(session, user)
    return AccountNoticesPublic(data=[AccountNoticePublic.model_validate(n) for n in notices], count=len(notices))


@router.post("/notices/{notice_id}/dismiss", status_code=status.HTTP_204_NO_CONTENT,
             operation_id="auth_dismiss_notice")
async def dismiss_notice(notice_id: str, session: SessionDep, user: CurrentUser) -> Response:
    await accounts.dismiss_notice(session, user, notice_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/password", operation_id="auth_change_password")
async def change_password(body: PasswordChangeRequest, state: AppStateDep, session: SessionDep,
                          user: CurrentUser, session_id: CurrentSessionId, request: Request,
                          response: Response) -> TokenPair:
    issued = await auth_service.change_password(
        state, session, user, session_id, current_password=body.current_password,
        new_password=body.new_password, confirm_password=body.confirm_password,
    )
    return _pair(issued, state, request, response)


@router.get("/links/{token}", operation_id="auth_link_info")
async def link_info(token: str, session: SessionDep) -> LinkInfoPublic:
    """What a one-time link from an administrator is for; "not found" once used or expired."""
    link, email = await admin_users.link_info(session, token)
    return LinkInfoPublic(purpose=link.purpose, email=email, expires_at=link.expires_at)  # type: ignore[arg-type]


@router.post("/links/{token}/invite", status_code=status.HTTP_201_CREATED, operation_id="auth_redeem_invite")
async def redeem_invite(token: str, body: InviteRedeem, state: AppStateDep, session: SessionDep) -> UserPublic:
    """Create the account an invitation is for (then sign in as usual)."""
    user = await admin_users.redeem_invite(state, session, token, name=body.name, email=body.email,
                                           password=body.password)
    return UserPublic.model_validate(user)


@router.post("/links/{token}/reset", operation_id="auth_redeem_reset")
async def redeem_reset(token: str, body: ResetRedeem, state: AppStateDep, session: SessionDep) -> UserPublic:
    """Set a new password with a reset link; every session of the account is signed out."""
    return UserPublic.model_validate(await admin_users.redeem_reset(state, session, token, password=body.password))
