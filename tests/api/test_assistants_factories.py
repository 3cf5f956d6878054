"""Factories shared by the assistant, conversation, ownership and round-trip tests (no tests here).

Messages are written the way the chat runner writes them: through ``repositories.messages`` in a real
session of the test database."""

from __future__ import annotations

from typing import Any

import httpx

from agentcreator.db.models import Message
from agentcreator.repositories import messages as message_repo
from agentcreator.state import AppState
from tests.conftest import UserSession


async def make_assistant(user: UserSession, **fields: Any) -> dict[str, Any]:
    body = {"name": "Helper", **fields}
    response = await user.client.post("/api/assistants", json=body, headers=user.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def make_conversation(user: UserSession, assistant_id: str, **fields: Any) -> dict[str, Any]:
    response = await user.client.post("/api/conversations", json={"assistant_id": assistant_id, **fields},
                                      headers=user.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def add_messages(app_state: AppState, conversation_id: str, *texts: str,
                       **fields: Any) -> list[Message]:
    """Append messages (user/assistant alternating unless ``role`` is given), as the chat runner
    would, and commit."""
    added = []
    async with app_state.sessions() as session:
        for index, text in enumerate(texts):
            values = {"role": "user" if index % 2 == 0 else "assistant", "status": "complete",
                      "content": [{"type": "text", "text": text}], "text": text, **fields}
            message = Message(conversation_id=conversation_id, **values)
            added.append(await message_repo.add(session, message))
        await session.commit()
    return added


async def get_json(client: httpx.AsyncClient, user: UserSession, path: str, **params: Any) -> Any:
    response = await client.get(path, headers=user.headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()
