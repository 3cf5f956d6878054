"""Running turns of this process, one per conversation."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Literal

StopReason = Literal["user", "client_gone", "shutdown"]


@dataclass
class RunningTurn:
    turn_id: str
    conversation_id: str
    assistant_message_id: str
    task: asyncio.Task[None] | None = None
    stop_reason: StopReason | None = None
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    started: bool = False  # the runner has begun: before that, cancelling its task would skip its cleanup
    opening: asyncio.Task[object] | None = None  # the task sending the model request, while it waits

    def stop(self, reason: StopReason) -> None:
        """Cancel the running answer; a runner that has not begun yet sees ``stop_reason`` instead (a
        task cancelled before its first step never runs, so it could not save or release anything).
        A model request still waiting for its answer's headers is cancelled (see ``ChatService``)."""
        if self.stop_reason is None:
            self.stop_reason = reason
        if self.opening is not None and not self.opening.done():
            self.opening.cancel()
        if self.started and self.task is not None and not self.task.done():
            self.task.cancel()


class TurnRegistry:
    def __init__(self) -> None:
        self._by_conversation: dict[str, RunningTurn] = {}

    def get(self, conversation_id: str) -> RunningTurn | None:
        return self._by_conversation.get(conversation_id)

    def add(self, turn: RunningTurn) -> None:
        self._by_conversation[turn.conversation_id] = turn

    def release(self, turn: RunningTurn) -> None:
        if self._by_conversation.get(turn.conversation_id) is turn:
            del self._by_conversation[turn.conversation_id]

    def channels(self) -> list[str]:
        """The conversations with a turn running here (their bus channels)."""
        return list(self._by_conversation)

    def __len__(self) -> int:
        return len(self._by_conversation)

    def starting(self) -> bool:
        """Whether a turn is being started here (read, written, its call opened: no runner task yet)."""
        return any(turn.task is None for turn in self._by_conversation.values())

    async def stop_all(self, reason: StopReason, wait_seconds: float = 10.0) -> None:
        turns = list(self._by_conversation.values())
        for turn in turns:
            turn.stop(reason)
        tasks = [t.task for t in turns if t.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=wait_seconds)
