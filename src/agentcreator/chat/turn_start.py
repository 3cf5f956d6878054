"""The pieces of a turn's start that need no service state: what a read worked out (``Draft``), the
user's side of a send, regenerate or edit, and the checks and errors of a start."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from agentcreator.billing import CallTarget
from agentcreator.billing.meter import Quote
from agentcreator.chat.early_call import EarlyCall
from agentcreator.chat.model_request import StagedPrompts, text_of
from agentcreator.chat.turns import RunningTurn, TurnRegistry
from agentcreator.core.errors import Conflict, NotFound, Unauthorized, ValidationFailed
from agentcreator.core.security import AccessClaims, check_access
from agentcreator.llm.base import ModelProvider
from agentcreator.llm.types import ModelInfo, ModelRequest
from agentcreator.repositories import messages as message_repo
from agentcreator.repositories.messages import NewMessage
from agentcreator.repositories.turns import AssistantConfig, ConversationState
from agentcreator.repositories.users import AccessState

Mode = Literal["send", "regenerate", "edit", "resume"]  # resume: a paused run goes on (chat/tool_outputs)


@dataclass
class Draft:
    """A turn worked out from a read: what to save and reserve, and what to send the model."""

    leaf_id: str | None  # the conversation as read: the write checks that it has not moved since
    message_count: int
    first_seq: int  # the ``seq`` of the first message saved (valid while the count has not moved)
    assistant: AssistantConfig
    provider: ModelProvider
    request: ModelRequest
    report: dict[str, Any]
    target: CallTarget
    quote: Quote
    user_message: NewMessage | None  # not saved yet
    placeholder: NewMessage  # the answer, saved as ``streaming``
    title_from: str | None
    early: EarlyCall | None  # the model call, when it went out before the turn was written
    info: ModelInfo
    tools_unavailable: str | None  # why the run goes without the assistant's tools, if it does
    citations: list[dict[str, Any]]  # passages retrieved for the turn (automatic retrieval), cited by the answer
    prompt_tokens: int = 0  # the first model call's prompt, as counted for its quote
    resumed: Any = None  # PausedRun: the run this turn continues with the caller's tool outputs
    prompts: StagedPrompts | None = None  # what the prompt-token cache keeps once the turn is written
    budget_overrides: dict[str, Any] | None = None  # the owner's budget overrides, as read for the quote
    toolset: Any = None  # ToolSet: the run's tools, when its first call went out early with them


def new_user_message(conversation_id: str, parts: list[dict[str, Any]], parent_id: str | None) -> NewMessage:
    return message_repo.new_message(conversation_id=conversation_id, role="user", content=parts,
                                    text=text_of(parts), parent_id=parent_id)



def user_side(conversation: ConversationState, rows: list[Any], shown: list[Any], mode: Mode,
               parts: list[dict[str, Any]] | None, target_id: str | None) -> tuple[NewMessage | None, Any]:
    """Returns (new user message, not saved yet, or None; the message the answer replies to).
    ``shown``: the branch shown (``send`` only)."""
    if mode == "send":
        message = new_user_message(conversation.id, parts or [], shown[-1].id if shown else None)
        return message, message
    target = next((m for m in rows if m.id == target_id), None)
    if target is None:
        raise NotFound("Message")
    if mode == "regenerate":
        if target.role != "assistant" or target.parent_id is None:
            raise ValidationFailed("Only an assistant's answer can be regenerated.", code="not_regenerable")
        parent = next((m for m in rows if m.id == target.parent_id), None)
        if parent is None:
            raise ValidationFailed("The question this answer replied to is gone.", code="not_regenerable")
        return None, parent
    if target.role != "user":
        raise ValidationFailed("Only your own messages can be edited.", code="not_editable")
    message = new_user_message(conversation.id, parts or [], target.parent_id)
    return message, message


def tools_unavailable(assistant: AssistantConfig, info: ModelInfo) -> str | None:
    """Why the run goes without the assistant's tools (its model cannot call tools), or None."""
    if assistant.tools and not info.tools:
        return f"{info.id} cannot call tools, so it answers without them."
    return None


def abandon(turns: TurnRegistry, turn: RunningTurn) -> None:
    """A turn that will never run: free its conversation, and wake whoever waits for it to finish
    (a stop asked for while it was starting)."""
    turns.release(turn)
    turn.finished.set()


def check(access: AccessClaims, state: AccessState | None) -> None:
    if state is None:  # the user or the session is gone
        raise Unauthorized("Invalid access token", code="invalid_token")
    check_access(access, is_disabled=state.is_disabled, token_version=state.token_version,
                 revoked=state.revoked_at is not None)


def turn_in_progress() -> Conflict:
    return Conflict("An answer is still being written in this conversation. Wait for it or stop it first.",
                    code="turn_in_progress")
