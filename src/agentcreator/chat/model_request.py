"""The request a turn sends its model: the history messages as the model gets them (cached with their
token counts), the context window plan, and the report of what was kept and dropped."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agentcreator.chat.context import ContextPlan, plan_context
from agentcreator.chat.continuation import SUMMARY_HEADING
from agentcreator.chat.parts import NO_RESULT_OUTPUT, text_of
from agentcreator.chat.window_summary import WINDOW_SUMMARY_HEADING
from agentcreator.db.types import utcnow
from agentcreator.llm.base import ModelProvider
from agentcreator.llm.types import ChatMessage, ModelInfo, ModelRequest, ToolCall

__all__ = ["PromptCache", "build_model_request", "context_report", "history_messages", "text_of", "to_chat_message"]
from agentcreator.repositories.turns import AssistantConfig


def to_chat_message(message: Any) -> ChatMessage:
    """A user message as the model reads it (its text and image parts)."""
    content = [p for p in (message.content or []) if p.get("type") in ("text", "image") and
               (p.get("type") == "text" or p.get("url"))]
    return ChatMessage.model_validate({"role": "user", "content": content or [{"type": "text", "text": message.text}]})


def history_messages(message: Any) -> list[ChatMessage]:
    """A saved message as the model reads it again. An answer of a run becomes what the model saw: for
    each round with tool calls, an assistant message with its text and calls, then one result per call
    (a call that never finished gets a result that says so); then the final text. Hosted calls (the
    provider ran them inside its call) are left out: their outcome is in the text."""
    if message.role != "assistant":
        return [to_chat_message(message)]
    out: list[ChatMessage] = []
    text: list[str] = []
    calls: list[dict[str, Any]] = []

    def flush_calls() -> None:
        if not calls:
            return
        out.append(ChatMessage.assistant("".join(text), [
            ToolCall(call_id=c["call_id"], name=c["name"], arguments=c.get("arguments") or "{}") for c in calls]))
        out.extend(ChatMessage.tool(c["call_id"], c.get("output") or NO_RESULT_OUTPUT) for c in calls)
        text.clear()
        calls.clear()

    for part in message.content or []:
        kind = part.get("type")
        if kind == "tool_call":
            if part.get("hosted"):  # run by the provider inside its call: nothing to replay
                continue
            if text and calls and part.get("round") != calls[-1].get("round"):
                flush_calls()
            calls.append(part)
        elif kind == "text":
            flush_calls()
            text.append(part.get("text", ""))
    flush_calls()
    final = "".join(text) if out or text else message.text
    if final:
        out.append(ChatMessage.assistant(final))
    return out


class PromptCache:
    """Each history message as sent to the model, with its token count, by provider, model and message
    id: a turn sends the same history as the one before plus two messages. A message never changes
    once it is in a history (edits and regenerations add new ones; streaming answers are not sent),
    except a run's answer that continues after ``requires_action`` (chat/tool_outputs): that copy carries
    its ``updated_at``, which is part of the key."""

    MAX_ITEMS = 20_000

    def __init__(self) -> None:
        self._items: dict[tuple[str, str, str, Any], tuple[list[ChatMessage], int]] = {}
        self._instructions: dict[tuple[str, str, str], int] = {}  # an assistant's instructions change rarely

    def get(self, provider: ModelProvider, model: str, message: Any) -> tuple[list[ChatMessage], int]:
        key = (provider.name, model, message.id, getattr(message, "updated_at", None))
        item = self._items.get(key)
        if item is None:
            chat = history_messages(message)
            item = (chat, provider.count_tokens(model, chat, ""))
            if len(self._items) >= self.MAX_ITEMS:
                del self._items[next(iter(self._items))]  # the oldest
            self._items[key] = item
        return item

    def instructions_tokens(self, provider: ModelProvider, model: str, instructions: str) -> int:
        key = (provider.name, model, instructions)
        count = self._instructions.get(key)
        if count is None:
            count = provider.count_tokens(model, [], instructions) if instructions else 0
            if len(self._instructions) >= self.MAX_ITEMS // 10:
                del self._instructions[next(iter(self._instructions))]
            self._instructions[key] = count
        return count


@dataclass(frozen=True)
class PlannedRequest:
    """The request for a turn and the context plan it came from (for :func:`context_report`)."""

    request: ModelRequest
    plan: ContextPlan[Any]
    reply_budget: int

    @property
    def prompt_tokens(self) -> int:
        return self.plan.total_tokens


def build_model_request(prompts: PromptCache, assistant: AssistantConfig, provider: ModelProvider,
                        info: ModelInfo, branch: list[Any], summary: str | None = None,
                        window_summary: str | None = None,
                        attachments: dict[str, tuple[ChatMessage, int]] | None = None,
                        retrieved: str | None = None, user: str | None = None) -> PlannedRequest:
    """What the model is sent for ``branch``: the instructions, the history within the window and the
    token budget. The report saved with the answer comes after (:func:`context_report`): the model
    can be called before it is written. ``attachments``: the user messages with files, as the model gets
    them (chat/attachments; not cached: they hold the files' contents)."""
    params = assistant.parameters or {}
    attachments = attachments or {}

    def as_sent(message: Any) -> tuple[list[ChatMessage], int]:
        if message.id in attachments:
            chat, tokens = attachments[message.id]
            return [chat], tokens
        return prompts.get(provider, info.name, message)

    instructions = assistant.instructions
    if summary:  # a continuation: the summary of the conversation it continues goes with the instructions
        instructions = f"{instructions}\n\n{SUMMARY_HEADING}\n{summary}".strip()
    if window_summary:  # opt-in: what fell out of the history window, summarised
        instructions = f"{instructions}\n\n{WINDOW_SUMMARY_HEADING}\n{window_summary}".strip()
    if retrieved:  # automatic retrieval (chat/retrieval): passages for the message, for models without tools
        instructions = f"{instructions}\n\n{retrieved}".strip()
    history = [m for m in branch if m.role == "user" or (m.role == "assistant" and m.status != "streaming" and (
        m.text or any(p.get("type") == "tool_call" for p in m.content or [])))]
    reply_budget = params.get("max_output_tokens") or min(info.max_output_tokens,
                                                          max(256, info.context_length // 4))
    plan = plan_context(history, window=assistant.history_window, context_length=info.context_length,
                        reply_budget=reply_budget,
                        instructions_tokens=prompts.instructions_tokens(provider, info.name, instructions),
                        count=lambda m: as_sent(m)[1])
    request = ModelRequest(
        model=info.name, instructions=instructions,
        messages=[chat for m in plan.kept for chat in as_sent(m)[0]],
        temperature=params.get("temperature"), top_p=params.get("top_p"), max_output_tokens=reply_budget,
        user=user)
    return PlannedRequest(request, plan, reply_budget)


def context_report(planned: PlannedRequest, assistant: AssistantConfig, info: ModelInfo, *, summary: bool,
                   window_summary: bool) -> dict[str, Any]:
    """What the model was sent for an answer, saved with it: kept and dropped messages, token counts."""
    plan = planned.plan
    return {
        "model": f"{info.provider}/{info.name}", "context_length": info.context_length,
        "reply_budget": planned.reply_budget, "instructions_tokens": plan.instructions_tokens,
        "summary": summary, "window_summary": window_summary, "window": assistant.history_window,
        "total_tokens": plan.total_tokens,
        "kept": [{"id": m.id, "role": m.role, "tokens": plan.token_counts[id(m)]} for m in plan.kept],
        "dropped_by_window": [m.id for m in plan.dropped_by_window],
        "dropped_by_budget": [m.id for m in plan.dropped_by_budget],
        "at": utcnow().isoformat(),
    }
