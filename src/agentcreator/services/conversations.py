"""Conversation use cases for one owner: list, start ("new thread"), rename/archive, delete, and read
messages. The service owns the transaction (it commits). Messages are written by the chat runner."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from agentcreator.core.errors import Conflict, NotFound, ValidationFailed
from agentcreator.db.models import Conversation, Message
from agentcreator.db.types import utcnow
from agentcreator.repositories import assistants as assistant_repo
from agentcreator.repositories import conversations as conversation_repo
from agentcreator.repositories import message_search
from agentcreator.repositories import messages as message_repo
from agentcreator.repositories.conversations import ArchivedFilter
from agentcreator.services.assistants import ModelValidator

DEFAULT_TITLE = "New conversation"
UPDATABLE_FIELDS = frozenset({"title", "archived", "model"})


class ConversationService:
    def __init__(self, session: AsyncSession, owner_id: str, validate_model: ModelValidator | None = None) -> None:
        self.session = session
        self.owner_id = owner_id
        self.validate_model = validate_model  # raises when the platform cannot serve a model (422)

    async def list(self, *, assistant_id: str | None = None, q: str | None = None,
                   archived: ArchivedFilter = "false", limit: int = 50,
                   offset: int = 0) -> tuple[list[Conversation], int]:
        return await conversation_repo.list_owned(self.session, self.owner_id, assistant_id=assistant_id, q=q,
                                                  archived=archived, limit=limit, offset=offset)

    async def create(self, assistant_id: str, title: str | None = None, *,
                     reuse_empty: bool = False) -> Conversation:
        """Start a conversation with one of the owner's assistants (another user's is "not found").
        With ``reuse_empty`` (and no title) an untouched conversation with that assistant is reopened
        (moved to the top) instead, so repeated "Start chat" clicks don't pile up empty ones."""
        assistant = await assistant_repo.get_owned(self.session, self.owner_id, assistant_id)
        if assistant is None:
            raise NotFound("Assistant")
        now = utcnow()
        if reuse_empty and title is None:
            empty = await conversation_repo.find_empty(self.session, self.owner_id, assistant.id)
            if empty is not None:
                empty.last_activity_at = now
                empty.updated_at = now
                await self.session.flush()
                await self.session.commit()
                return empty
        conversation = await conversation_repo.add(self.session, Conversation(
            owner_id=self.owner_id, assistant_id=assistant.id, title=title or DEFAULT_TITLE,
            archived=False, message_count=0, last_activity_at=now, created_at=now, updated_at=now))
        await self.session.commit()
        return conversation

    async def update(self, conversation: Conversation, changes: dict[str, Any]) -> Conversation:
        self._check_owner(conversation)
        unknown = set(changes) - UPDATABLE_FIELDS
        if unknown:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        if changes.get("model") is not None and changes["model"] != conversation.model:
            await self._check_model(conversation, changes["model"])
        for key, value in changes.items():
            setattr(conversation, key, value)
        await self.session.flush()
        await self.session.commit()
        return conversation

    async def delete(self, conversation: Conversation) -> None:
        """Delete the conversation and, by FK cascade, its messages."""
        self._check_owner(conversation)
        if not await conversation_repo.delete_owned(self.session, self.owner_id, conversation.id):
            raise NotFound("Conversation")
        await self.session.commit()

    async def messages(self, conversation: Conversation, *, limit: int = 100,
                       offset: int = 0) -> tuple[list[Message], int]:
        """A page of the conversation's messages, oldest first, and their total."""
        self._check_owner(conversation)
        total = await message_repo.count_for_conversation(self.session, conversation.id)
        page = await message_repo.list_for_conversation(self.session, conversation.id, limit, offset)
        return page, total

    async def search_messages(self, query: str, *, limit: int = 20) -> list[tuple[message_search.MessageHit, str]]:
        """The owner's messages matching every word of ``query`` (archived conversations included),
        newest first, each with a snippet around its first match."""
        terms = message_search.search_terms(query)
        hits = await message_search.search_owned(self.session, self.owner_id, query, limit=limit)
        return [(hit, message_search.snippet(hit.text, terms)) for hit in hits]

    async def _check_model(self, conversation: Conversation, model: str) -> None:
        """A conversation's own model: one of its assistant's provider's models that the platform serves."""
        assistant = await assistant_repo.get_owned(self.session, self.owner_id, conversation.assistant_id) \
            if conversation.assistant_id else None
        if assistant is None:
            raise Conflict("This conversation's assistant was deleted; start a new conversation.",
                           code="assistant_deleted")
        provider = assistant.model.partition("/")[0]
        if model.partition("/")[0] != provider or not model.partition("/")[2]:
            raise ValidationFailed(f"Pick one of the models of {provider}, the provider of this conversation's "
                                   "assistant.", code="model_not_allowed",
                                   details=[{"loc": ["body", "model"], "msg": "not a model of the assistant's provider",
                                             "type": "model_not_allowed"}])
        if self.validate_model is not None:
            await self.validate_model(model)

    def _check_owner(self, conversation: Conversation) -> None:
        if conversation.owner_id != self.owner_id:
            raise NotFound("Conversation")
