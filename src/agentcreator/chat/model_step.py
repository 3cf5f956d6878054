"""A model step of a run: read one model call's events, relay them to the turn's followers, and say
what the model did (text, tool calls, usage, or how it ended). Never raises: an error, a stop and a
broken stream come back in the :class:`ModelRound`."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from agentcreator.chat import events as ev
from agentcreator.chat.hosted_calls import HostedCalls, hosted_call_event
from agentcreator.chat.parts import CitationPart
from agentcreator.core.errors import AppError
from agentcreator.llm.types import StreamEvent, ToolCall, Usage

log = logging.getLogger(__name__)
Publish = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass
class ModelRound:
    index: int
    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    # Calls the provider ran inside this call (hosted tools), and the sources the text cites.
    hosted: HostedCalls = field(default_factory=HostedCalls)
    citations: list[CitationPart] = field(default_factory=list)
    usage: Usage | None = None
    finish_reason: str | None = None
    error: ev.ErrorInfo | None = None
    stopped: bool = False
    started_at: float = field(default_factory=time.monotonic)
    first_token_at: float | None = None
    finished_at: float | None = None

    @property
    def ended_normally(self) -> bool:
        return self.error is None and not self.stopped and self.finish_reason is not None


async def paced(events: AsyncIterator[StreamEvent], wait: Callable[[], float]) -> AsyncIterator[StreamEvent]:
    """Relay pacing as a wrapper of the event stream: after a text delta, pause ``wait()`` seconds
    (0: none); what the model sends meanwhile waits in the socket and is read in one go."""
    try:
        async for event in events:
            yield event
            if event.type == "text_delta":
                pause = wait()
                if pause:
                    await asyncio.sleep(pause)
    finally:
        await events.aclose()


async def run_model_step(events: AsyncIterator[StreamEvent], publish: Publish, *, message_id: str,
                         index: int, on_text: Callable[[list[str]], None] | None = None) -> ModelRound:
    """Read ``events`` to their end (or the task's cancellation: ``stopped``) and close them.
    ``on_text``: called with the text so far after each text delta (checkpoints: chat/checkpoints)."""
    result = ModelRound(index=index)
    text: list[str] = []
    try:
        async for event in events:
            kind = event.type
            if kind == "text_delta":
                if result.first_token_at is None:
                    result.first_token_at = time.monotonic()
                text.append(event.text)
                await publish({"type": "text_delta", "message_id": message_id, "text": event.text})
                if on_text is not None:
                    on_text(text)
            elif kind == "tool_call_started":
                await publish(ev.to_wire(ev.ToolCallStarted(message_id=message_id, call_id=event.call_id,
                                                            name=event.name, round=index)))
            elif kind == "tool_call_delta":
                await publish(ev.to_wire(ev.ToolCallDelta(message_id=message_id, call_id=event.call_id,
                                                          arguments_delta=event.arguments_delta)))
            elif kind == "tool_call_done":
                result.tool_calls.append(event.to_tool_call())
            elif kind == "hosted_tool_call":
                await hosted_call_event(result.hosted, event, publish, message_id=message_id, round_index=index)
            elif kind == "citation":
                result.citations.append(CitationPart(title=event.title or event.filename or event.url or "",
                                                     url=event.url))
            elif kind == "queued":
                await publish(ev.to_wire(ev.Queued(message_id=message_id, position=event.position)))
            elif kind == "usage":
                result.usage = event.usage
            elif kind == "completed":
                result.finish_reason = event.finish_reason
                result.usage = event.usage or result.usage
            elif kind == "failed":
                error = event.error
                result.error = ev.ErrorInfo(code=error.code, message=error.message, retryable=error.retryable)
                break
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None:
            current.uncancel()
        result.stopped = True
    except AppError as exc:
        result.error = ev.ErrorInfo(code=exc.code, message=exc.message)
    except Exception as exc:
        log.exception("model step %d of message %s failed unexpectedly", index, message_id)
        result.error = ev.ErrorInfo(code="internal_error", message=f"The answer failed: {type(exc).__name__}")
    finally:
        try:
            await events.aclose()
        except Exception:
            log.warning("closing the model stream of message %s failed", message_id, exc_info=True)
    result.text = "".join(text)
    result.finished_at = time.monotonic()
    return result
