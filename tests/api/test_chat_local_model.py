"""The embedded SmolLM2 model answers through the real API: no network, no API key."""

from __future__ import annotations

import httpx
import pytest

from tests.api.chat_helpers import make_chat, sse_events
from tests.conftest import UserSession

pytestmark = pytest.mark.local_model


async def test_the_default_local_model_streams_a_real_answer(
        live_client: httpx.AsyncClient, alice: UserSession) -> None:
    models = (await live_client.get("/api/models", headers=alice.headers)).json()
    local = next((m for m in models["data"] if m["id"] == models["default_model"]), models)
    assert local["local"] is True and local["vision"] is False
    assistant = await live_client.post("/api/assistants", headers=alice.headers, json={
        "name": "Local", "instructions": "You are a helpful assistant.",
        "parameters": {"max_output_tokens": 24, "temperature": 0}})
    assert assistant.status_code == 201 and assistant.json()["model"] == "local/smollm2-135m-instruct"
    _, conversation = await make_chat(live_client, alice, model="local/smollm2-135m-instruct",
                                      parameters={"max_output_tokens": 24, "temperature": 0})
    async with live_client.stream("POST", f"/api/conversations/{conversation['id']}/messages",
                                  headers=alice.headers | {"Accept": "text/event-stream"},
                                  json={"content": "What is the capital of France?"}) as response:
        assert response.status_code == 200, await response.aread()
        events = [e async for e in sse_events(response)]
    outline = [(e.type, e.data.get("error")) for e in events if e.type != "text_delta"]
    assert [e.type for e in events if e.type.startswith("turn_")][-1] == "turn_completed", outline
    deltas = [e for e in events if e.type == "text_delta"]
    assert len(deltas) >= 2, "the answer must arrive token by token"
    done = next(e for e in events if e.type == "turn_completed").data["message"]
    assert done["status"] == "complete"
    assert done["text"].strip() and done["text"] == "".join(e.data["text"] for e in deltas)
    usage = done["usage"]
    assert usage["estimated"] is False
    assert 0 < usage["output_tokens"] <= 24
    assert usage["input_tokens"] > 10  # instructions + question through the model's own chat template
