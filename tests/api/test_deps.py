"""The access-token check the routes share: verified tokens are remembered for their lifetime only,
and revocation is still checked on every request."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import delete, update

from agentcreator.api import deps
from agentcreator.core.errors import Unauthorized
from agentcreator.core.security import AccessClaims
from agentcreator.db.models import AuthSession, User
from agentcreator.db.session import transaction
from agentcreator.db.types import utcnow
from agentcreator.state import AppState
from tests.api.chat_helpers import make_chat, messages, send
from tests.conftest import UserSession
from tests.llm.openai_double import OpenAIDouble, Script


def test_a_remembered_token_past_its_expiry_is_verified_again(app_state: AppState,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    token = app_state.tokens.issue("u" * 32, "s" * 32, 1)
    first = deps.verify_access_token(app_state, token)
    assert deps.verify_access_token(app_state, token) is first  # remembered
    calls: list[str] = []

    def expired(checked: str) -> AccessClaims:
        calls.append(checked)
        raise Unauthorized("Access token expired", code="token_expired")

    monkeypatch.setattr(app_state.tokens, "verify", expired)
    monkeypatch.setattr(deps.time, "time", lambda: first.expires_at.timestamp())  # the moment it expires
    with pytest.raises(Unauthorized):
        deps.verify_access_token(app_state, token)
    assert calls == [token]


async def test_a_revoked_session_is_refused_by_the_chat_routes_at_once(
        client: httpx.AsyncClient, alice: UserSession, app_state: AppState) -> None:
    _, conversation = await make_chat(client, alice)
    assert (await send(client, alice, conversation["id"], "hi")).status_code == 201  # the token is remembered
    async with transaction(app_state.sessions) as session:
        await session.execute(update(AuthSession).where(AuthSession.user_id == alice.id)
                              .values(revoked_at=utcnow(), revoked_reason="test"))
    refused = await send(client, alice, conversation["id"], "again")
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "session_revoked"


# The chat turn routes check the user and the session in the read that starts the turn (one query
# less per message): the same refusals as every other route, before anything else and saving nothing.

async def _refused(client: httpx.AsyncClient, alice: UserSession, conversation_id: str, code: str) -> None:
    for attempt in ("send", "regenerate", "edit"):
        if attempt == "send":
            response = await send(client, alice, conversation_id, "refused")
        else:
            response = await client.post(f"/api/conversations/{conversation_id}/messages/{'x' * 32}/{attempt}",
                                         headers=alice.headers, json={"content": "refused"})
        assert response.status_code == 401, (attempt, response.text)
        assert response.json()["error"]["code"] == code


async def test_the_chat_routes_refuse_a_disabled_user(client: httpx.AsyncClient, alice: UserSession,
                                                     app_state: AppState) -> None:
    _, conversation = await make_chat(client, alice)
    assert (await send(client, alice, conversation["id"], "hi")).status_code == 201
    async with transaction(app_state.sessions) as session:
        await session.execute(update(User).where(User.id == alice.id).values(is_disabled=True))
    await _refused(client, alice, conversation["id"], "account_disabled")
    async with transaction(app_state.sessions) as session:
        await session.execute(update(User).where(User.id == alice.id).values(is_disabled=False))
    assert len(await messages(client, alice, conversation["id"])) == 2  # nothing was saved meanwhile


async def test_the_chat_routes_refuse_a_token_whose_session_is_gone(
        client: httpx.AsyncClient, alice: UserSession, app_state: AppState) -> None:
    _, conversation = await make_chat(client, alice)
    async with transaction(app_state.sessions) as session:
        await session.execute(delete(AuthSession).where(AuthSession.user_id == alice.id))
    await _refused(client, alice, conversation["id"], "invalid_token")


async def test_a_revoked_session_gets_401_not_404_or_409(
        client: httpx.AsyncClient, alice: UserSession, app_state: AppState) -> None:
    """Revocation comes first: neither a missing conversation (404) nor a busy one (409) shows through."""
    _, conversation = await make_chat(client, alice)
    async with transaction(app_state.sessions) as session:
        await session.execute(update(AuthSession).where(AuthSession.user_id == alice.id)
                              .values(revoked_at=utcnow(), revoked_reason="test"))
    await _refused(client, alice, "0" * 32, "session_revoked")  # no such conversation
    await _refused(client, alice, "not an id", "session_revoked")
    await _refused(client, alice, conversation["id"], "session_revoked")


async def test_a_revoked_session_gets_401_while_an_answer_is_being_written(
        client: httpx.AsyncClient, alice: UserSession, bob: UserSession, app_state: AppState,
        openai_double: OpenAIDouble) -> None:
    _, conversation = await make_chat(client, alice)
    openai_double.push(Script(text=["still", " writing"], stall_after=1, stall_seconds=30))
    turn = await app_state.chat.send(alice.id, conversation["id"], [{"type": "text", "text": "long"}])
    try:
        busy = await send(client, alice, conversation["id"], "again")
        assert (busy.status_code, busy.json()["error"]["code"]) == (409, "turn_in_progress")
        async with transaction(app_state.sessions) as session:
            await session.execute(update(AuthSession).where(AuthSession.user_id == alice.id)
                                  .values(revoked_at=utcnow(), revoked_reason="test"))
        refused = await send(client, alice, conversation["id"], "again")
        assert (refused.status_code, refused.json()["error"]["code"]) == (401, "session_revoked")
        other = await send(client, bob, conversation["id"], "hijack")  # another user: still 404
        assert other.status_code == 404
    finally:
        turn.turn.stop("user")
        await turn.turn.finished.wait()


@pytest.mark.parametrize("authorization", [None, "Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "bearer not-a-jwt"])
async def test_the_chat_routes_read_the_authorization_header_as_every_route_does(
        client: httpx.AsyncClient, alice: UserSession, authorization: str | None) -> None:
    """The turn routes read the bearer token themselves (one dependency instead of four): the same 401
    as a route that uses the shared dependencies, before the body is validated, and nothing saved."""
    _, conversation = await make_chat(client, alice)
    headers = {} if authorization is None else {"Authorization": authorization}
    reference = await client.get("/api/conversations", headers=headers)
    assert reference.status_code == 401
    for path, body in ((f"/api/conversations/{conversation['id']}/messages", {"content": "hi"}),
                       (f"/api/conversations/{conversation['id']}/messages", {"content": ""}),  # invalid too
                       (f"/api/conversations/{conversation['id']}/messages/{'x' * 32}/regenerate", None),
                       (f"/api/conversations/{conversation['id']}/messages/{'x' * 32}/edit", {"content": "hi"})):
        response = await client.post(path, headers=headers, json=body)
        assert response.status_code == 401, (path, response.text)
        assert response.json()["error"]["code"] == reference.json()["error"]["code"]
    assert await messages(client, alice, conversation["id"]) == []
