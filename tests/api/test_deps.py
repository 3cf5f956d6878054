"""The access-token check the routes share: verified tokens are remembered for their lifetime only,
and revocation is still checked on every request."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import update

from agentcreator.api import deps
from agentcreator.core.errors import Unauthorized
from agentcreator.core.security import AccessClaims
from agentcreator.db.models import AuthSession
from agentcreator.db.session import transaction
from agentcreator.db.types import utcnow
from agentcreator.state import AppState
from tests.api.chat_helpers import make_chat, send
from tests.conftest import UserSession


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
