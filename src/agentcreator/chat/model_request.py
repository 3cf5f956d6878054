"""The request a turn sends its model: the history messages as the model gets them (cached with their
token counts), the context window plan, and the report of what was kept and dropped."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Row

from agentcreator.chat.context import ContextPlan, plan_context
from agentcreator.chat.continuation import SUMMARY_HEADING
from agentcreator.chat.parts import NO_RESULT_OUTPUT, text_of
from agentcreator.chat.window_summary import WINDOW_SUMMARY_HEADING
from agentcreator.db.types import utcnow
from agentcreator.llm.base import ModelProvider
from agentcreator.llm.types import ChatMessage, ModelInfo, ModelRequest, ToolCall

__all__ = ["PromptCache", "StagedPrompts", "build_model_request", "context_report", "history_messages", "text_of", "to_chat_message"]
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
    its ``updated_at``, which is part of the key.

    Bounded by entries and by bytes (the messages' serialised size plus the key), least recently used
    out first. A turn reads through :meth:`staged`: what it adds reaches the cache only when the turn
    is accepted (:meth:`StagedPrompts.commit`), so refused requests (over budget, over a limit, a
    conversation that moved) never grow it. Instructions are kept by their SHA-256, not their text."""

    MAX_ITEMS = 20_000
    MAX_BYTES = 64 * 1024 * 1024
    ENTRY_OVERHEAD = 200  # the key, the tuple and the dict slot, roughly

    def __init__(self, *, max_items: int = MAX_ITEMS, max_bytes: int = MAX_BYTES) -> None:
        self.max_items = max_items
        self.max_bytes = max_bytes
        self.bytes = 0
        self._items: OrderedDict[tuple[Any, ...], tuple[list[ChatMessage], int, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def staged(self) -> StagedPrompts:
        return StagedPrompts(self)

    def get(self, provider: ModelProvider, model: str, message: Any) -> tuple[list[ChatMessage], int]:
        """Read and keep at once (no staging)."""
        staged = self.staged()
        item = staged.get(provider, model, message)
        staged.commit()
        return item

    def instructions_tokens(self, provider: ModelProvider, model: str, instructions: str) -> int:
        staged = self.staged()
        count = staged.instructions_tokens(provider, model, instructions)
        staged.commit()
        return count

    def _lookup(self, key: tuple[Any, ...]) -> tuple[list[ChatMessage], int] | None:
        item = self._items.get(key)
        if item is None:
            return None
        self._items.move_to_end(key)
        return item[0], item[1]

    def _put(self, key: tuple[Any, ...], chat: list[ChatMessage], tokens: int, size: int) -> None:
        if size > self.max_bytes // 4:
            return  # one huge message is not worth pushing everything else out for
        old = self._items.pop(key, None)
        if old is not None:
            self.bytes -= old[2]
        self._items[key] = (chat, tokens, size)
        self.bytes += size
        while self._items and (len(self._items) > self.max_items or self.bytes > self.max_bytes):
            _, (_, _, dropped) = self._items.popitem(last=False)  # the least recently used
            self.bytes -= dropped


class StagedPrompts:
    """One turn's view of the :class:`PromptCache`: reads hit the cache, new entries wait here until
    :meth:`commit` (the turn was accepted); dropped with the turn otherwise."""

    def __init__(self, cache: PromptCache) -> None:
        self._cache = cache
        self._new: dict[tuple[Any, ...], tuple[list[ChatMessage], int, int]] = {}

    def get(self, provider: ModelProvider, model: str, message: Any) -> tuple[list[ChatMessage], int]:
        # A row of the history read for a turn has no ``updated_at`` (asking a Row for a missing name
        # raises and catches inside SQLAlchemy: ~2 µs a message a turn); a continued answer's copy has.
        key = ("m", provider.name, model, message.id,
               None if isinstance(message, Row) else getattr(message, "updated_at", None))
        found = self._new.get(key)
        if found is not None:
            return found[0], found[1]
        cached = self._cache._lookup(key)
        if cached is not None:
            return cached
        chat = history_messages(message)
        tokens = provider.count_tokens(model, chat, "")
        size = PromptCache.ENTRY_OVERHEAD + sum(len(m.model_dump_json()) for m in chat)
        self._new[key] = (chat, tokens, size)
        return chat, tokens

    def instructions_tokens(self, provider: ModelProvider, model: str, instructions: str) -> int:
        if not instructions:
            return 0
        key = ("i", provider.name, model, hashlib.sha256(instructions.encode()).hexdigest())
        found = self._new.get(key)
        if found is not None:
            return found[1]
        cached = self._cache._lookup(key)
        if cached is not None:
            return cached[1]
        count = provider.count_tokens(model, [], instructions)
        self._new[key] = ([], count, PromptCache.ENTRY_OVERHEAD)
        return count

    def commit(self) -> None:
        for key, (chat, tokens, size) in self._new.items():
            self._cache._put(key, chat, tokens, size)
        self._new.clear()


@dataclass(frozen=True)
class PlannedRequest:
    """The request for a turn and the context plan it came from (for :func:`context_report`)."""

    request: ModelRequest
    plan: ContextPlan[Any]
    reply_budget: int

    @property
    def prompt_tokens(self) -> int:
        return self.plan.total_tokens


def build_model_request(prompts: PromptCache | StagedPrompts, assistant: AssistantConfig, provider: ModelProvider,
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
