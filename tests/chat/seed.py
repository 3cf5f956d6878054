"""Rows the chat service tests start from: a user, an assistant on the scripted model, a conversation."""

from __future__ import annotations

from agentcreator.db.models import Assistant, Conversation, User
from agentcreator.db.session import transaction
from agentcreator.state import AppState


async def seed_conversation(app_state: AppState, email: str) -> tuple[str, str]:
    """(user id, conversation id) of a new user's conversation with a 'Scripted' assistant."""
    async with transaction(app_state.sessions) as session:
        user = User(email=email, name=email.partition("@")[0].title(), password_hash="x")
        session.add(user)
        await session.flush()
        assistant = Assistant(owner_id=user.id, name="Scripted", model="scripted/test-model",
                              instructions="Be brief.", tools=[], parameters={}, tags=[])
        session.add(assistant)
        await session.flush()
        conversation = Conversation(owner_id=user.id, assistant_id=assistant.id, title="Set title")
        session.add(conversation)
    return user.id, conversation.id
