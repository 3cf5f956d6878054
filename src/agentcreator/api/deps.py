"""Dependencies as named types: the app state, a DB session, the current user, owned resources."""

from __future__ import annotations

import time
import weakref
from collections.abc import AsyncIterator
from typing import Annotated, NamedTuple

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param
from sqlalchemy.ext.asyncio import AsyncSession

from agentcreator.core.errors import Forbidden, NotFound, Unauthorized, ValidationFailed
from agentcreator.core.security import AccessClaims, TokenSigner, check_access
from agentcreator.db.models import Assistant, Conversation, User
from agentcreator.db.session import session_scope
from agentcreator.files.storage import LocalFileStorage
from agentcreator.llm.errors import ModelNotFound, ProviderError
from agentcreator.repositories import assistants as assistant_repo
from agentcreator.repositories import conversations as conversation_repo
from agentcreator.repositories import users as user_repo
from agentcreator.services.assistants import ModelValidator
from agentcreator.services.files import FileService
from agentcreator.services.image_urls import ImageUrlImporter
from agentcreator.state import AppState


async def get_state(request: Request) -> AppState:  # async: FastAPI runs a plain def in a worker thread
    return request.app.state.services


AppStateDep = Annotated[AppState, Depends(get_state)]


async def get_session(state: AppStateDep) -> AsyncIterator[AsyncSession]:
    async with session_scope(state.sessions) as session:
        yield session


# scope="function": the session closes when the handler returns, not when the response ends, so a
# streamed answer never holds a database connection while the model writes.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]

_bearer = HTTPBearer(auto_error=False)


async def client_address(request: Request, state: AppStateDep) -> str:
    """The client's address; X-Forwarded-For is honoured only when configured."""
    if state.settings.auth.trust_forwarded_for:
        forwarded = request.headers.get("x-forwarded-for")
        if forwarded:
            return forwarded.split(",")[0].strip()[:64]
    return request.client.host if request.client else "unknown"


ClientAddress = Annotated[str, Depends(client_address)]


# Access tokens this process has verified, per signer: checking a JWT's signature costs more CPU than
# the rest of a request's auth. Only what ``TokenSigner.verify`` accepted is kept, and an entry past
# its expiry is verified (and so refused) again. Revocation is unaffected: it is checked in the
# database on every request.
_VERIFIED_MAX = 4096
_verified: weakref.WeakKeyDictionary[TokenSigner, dict[str, AccessClaims]] = weakref.WeakKeyDictionary()


def verify_access_token(state: AppState, token: str) -> AccessClaims:
    """``state.tokens.verify(token)``, remembered for the token's lifetime."""
    cache = _verified.get(state.tokens)
    if cache is None:
        cache = _verified[state.tokens] = {}
    claims = cache.pop(token, None)
    if claims is None or time.time() >= claims.expires_at.timestamp():
        claims = state.tokens.verify(token)
        if len(cache) >= _VERIFIED_MAX:
            del cache[next(iter(cache))]  # the least recently used
    cache[token] = claims  # (re)inserted last: the dict's order is the recency order
    return claims


async def authenticate(session: AsyncSession, state: AppState, token: str) -> tuple[User, str]:
    """Resolve an access token to an active user and its session id, or raise Unauthorized."""
    claims = verify_access_token(state, token)
    found = await user_repo.get_with_session(session, claims.user_id, claims.session_id)
    if found is None:
        raise Unauthorized("Invalid access token", code="invalid_token")
    user, auth_session = found
    check_access(claims, is_disabled=user.is_disabled, token_version=user.token_version,
                 revoked=auth_session.revoked_at is not None)
    return user, auth_session.id


def _bearer_token(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("Not authenticated", code="not_authenticated")
    return credentials.credentials


async def _current_auth(
    session: SessionDep, state: AppStateDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> tuple[User, str]:
    return await authenticate(session, state, _bearer_token(credentials))


class TurnCaller(NamedTuple):
    """What a chat turn route (send, regenerate, edit) needs of its request, from one dependency."""

    state: AppState
    claims: AccessClaims  # a verified access token, not yet checked against the database
    accept: str | None


async def turn_caller(request: Request) -> TurnCaller:
    """The app state, the caller's verified access token (401 as :data:`CurrentUser` gives it) and the
    Accept header, in one dependency: each dependency costs FastAPI ~0.05 ms to solve, and these routes
    start every answer. The user and session are checked in the read that starts the turn
    (``ChatService.send(..., access=...)``: one query less per message). The routes declare the header
    and the bearer scheme in their OpenAPI (:data:`TURN_ROUTE_OPENAPI`)."""
    state: AppState = request.app.state.services
    headers = request.headers
    scheme, token = get_authorization_scheme_param(headers.get("authorization"))  # as HTTPBearer reads it
    credentials = HTTPAuthorizationCredentials(scheme=scheme, credentials=token) if scheme and token else None
    return TurnCaller(state, verify_access_token(state, _bearer_token(credentials)), headers.get("accept"))


TurnCallerDep = Annotated[TurnCaller, Depends(turn_caller)]
TURN_ROUTE_OPENAPI: dict[str, object] = {
    "parameters": [{"in": "header", "name": "accept", "required": False,
                    "schema": {"anyOf": [{"type": "string"}, {"type": "null"}], "title": "Accept"}}],
    "security": [{"HTTPBearer": []}],
}


CurrentAuth = Annotated[tuple[User, str], Depends(_current_auth)]


async def current_user(auth: CurrentAuth) -> User:
    return auth[0]


async def current_session_id(auth: CurrentAuth) -> str:
    return auth[1]


CurrentUser = Annotated[User, Depends(current_user)]
CurrentSessionId = Annotated[str, Depends(current_session_id)]


async def admin_user(user: CurrentUser) -> User:
    if not user.is_admin:
        raise Forbidden("Administrator rights required", code="admin_required")
    return user


AdminUser = Annotated[User, Depends(admin_user)]


async def owned_assistant(assistant_id: str, user: CurrentUser, session: SessionDep) -> Assistant:
    assistant = await assistant_repo.get_owned(session, user.id, assistant_id)
    if assistant is None:
        raise NotFound("Assistant")
    return assistant


OwnedAssistant = Annotated[Assistant, Depends(owned_assistant)]


async def owned_conversation(conversation_id: str, user: CurrentUser, session: SessionDep) -> Conversation:
    conversation = await conversation_repo.get_owned(session, user.id, conversation_id)
    if conversation is None:
        raise NotFound("Conversation")
    return conversation


OwnedConversation = Annotated[Conversation, Depends(owned_conversation)]


# The file service of an app state (keyed by its session factory), built on first use until AppState
# builds it in its lifespan: ``files=FileService(sessions, LocalFileStorage(settings.data_dir / "files"),
# settings.files)``, then this returns ``state.files``.
_file_services: weakref.WeakKeyDictionary[object, FileService] = weakref.WeakKeyDictionary()


def file_service_of(state: AppState) -> FileService:
    service: FileService | None = getattr(state, "files", None) or _file_services.get(state.sessions)
    if service is None:
        storage = LocalFileStorage(state.settings.data_dir / "files")
        service = _file_services[state.sessions] = FileService(state.sessions, storage, state.settings.files)
    return service


def image_importer_of(state: AppState) -> ImageUrlImporter:
    """Image URLs of chat messages, fetched through the app's SSRF guard into the owner's files."""
    return ImageUrlImporter(file_service_of(state), state.outbound)


async def file_service(state: AppStateDep) -> FileService:
    return file_service_of(state)


FileServiceDep = Annotated[FileService, Depends(file_service)]


async def model_validator(state: AppStateDep, session: SessionDep, user: CurrentUser) -> ModelValidator | None:
    """An assistant's (or a conversation's) model must be one the platform can serve right now and this
    user may use (see GET /api/models); a provider restricted to other users reads as not configured."""

    async def check(model: str) -> None:
        try:
            if not await state.providers.may_use(session, user, model):  # worded as for a missing provider
                name = model.partition("/")[0]
                raise ModelNotFound(f"Model '{model}' is not available: provider '{name}' is not configured")
            await state.models.resolve(model)
        except ProviderError as exc:
            raise ValidationFailed(f"{exc.message}. Pick a model from the list of available models.",
                                   code="model_unavailable",
                                   details=[{"loc": ["body", "model"], "msg": exc.message, "type": exc.code}]) from exc

    return check


ModelValidatorDep = Annotated[ModelValidator | None, Depends(model_validator)]
