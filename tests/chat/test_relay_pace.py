"""Relay pacing under load (settings chat.relay_pace_*): the first token at once, then at most one
delta per interval carrying everything that arrived meanwhile; the text is unchanged."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from agentcreator.chat.bus import MemoryEventBus
from agentcreator.chat.runner import RelayPace
from agentcreator.chat.service import ChatService
from agentcreator.chat.turns import TurnRegistry
from agentcreator.db.models import Assistant, Conversation, User
from agentcreator.db.session import transaction
from agentcreator.llm.openai_chat import OpenAICompatibleProvider
from agentcreator.llm.registry import ModelRegistry
from agentcreator.llm.types import ModelSpec
from agentcreator.state import AppState
from tests.llm.openai_double import OpenAIDouble, Script


def test_pacing_starts_above_the_threshold_grows_with_the_load_and_zero_means_never() -> None:
    pace = RelayPace(above_turns=32, seconds=0.04)
    assert pace.wait(32) == 0.0
    assert pace.wait(33) == pytest.approx(0.04 * 33 / 32)
    assert pace.wait(48) == pytest.approx(0.06)
    assert pace.wait(64) == pytest.approx(0.08)
    assert pace.wait(500) == pytest.approx(0.08)  # at most twice the interval
    assert RelayPace(above_turns=0, seconds=0.04).wait(1) == 0.04  # always, and no growth
    assert RelayPace(above_turns=0, seconds=0.04).wait(500) == 0.04
    assert RelayPace(above_turns=0, seconds=0.0).wait(500) == 0.0


async def _chat(app_state: AppState, openai_double: OpenAIDouble, pace_ms: float) -> list[dict]:
    chat = app_state.settings.chat.model_copy(update={"relay_pace_above_turns": 0, "relay_pace_ms": pace_ms})
    settings = app_state.settings.model_copy(update={"chat": chat})
    provider = OpenAICompatibleProvider("paced", openai_double.base_url, max_retries=0, discover=False,
                                        models=[ModelSpec(name="m")])
    bus = MemoryEventBus()
    service = ChatService(app_state.sessions, bus, TurnRegistry(), ModelRegistry.of(provider), settings,
                          app_state.billing)
    async with transaction(app_state.sessions) as session:
        user = User(email=f"pace{pace_ms}@example.com", name="Pace", password_hash="x")
        session.add(user)
        await session.flush()
        assistant = Assistant(owner_id=user.id, name="Paced", model="paced/m", tools=[], parameters={}, tags=[])
        session.add(assistant)
        await session.flush()
        conversation = Conversation(owner_id=user.id, assistant_id=assistant.id, title="Set title")
        session.add(conversation)
    try:
        await service.send(user.id, conversation.id, [{"type": "text", "text": "count"}])
        return await asyncio.wait_for(_events(bus, conversation.id), timeout=20)
    finally:
        await service.aclose()
        await provider.aclose()


async def _events(bus: MemoryEventBus, channel: str) -> list[dict]:
    return [event async for _, event in bus.subscribe(channel)]


@pytest.fixture
async def emptied(client: object) -> AsyncIterator[None]:  # the client fixture empties the tables
    yield


async def test_a_paced_relay_merges_what_arrived_meanwhile_and_keeps_the_text(
        app_state: AppState, openai_double: OpenAIDouble, emptied: None) -> None:
    words = [f" w{i}" for i in range(12)]
    openai_double.push(Script(text=words, chunk_delay=0.03))
    events = await _chat(app_state, openai_double, pace_ms=150)
    deltas = [e["text"] for e in events if e["type"] == "text_delta"]
    assert deltas[0] == " w0"  # the first token is not held back
    assert len(deltas) < len(words)  # ~30 ms apart, relayed at most every 150 ms: merged
    assert "".join(deltas) == "".join(words)
    assert events[-1]["type"] == "turn_completed" and events[-1]["message"]["text"] == "".join(words)
