"""A budget that cannot cover a call's full reply allowance but can cover its prompt and a useful reply
(64 tokens) sends the call with its reply capped to what remains, and says so on the answer; below
that it still refuses. Nothing is ever overspent: the cap is exactly what the tightest budget has left."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from agentcreator.billing.meter import USEFUL_REPLY_TOKENS
from agentcreator.db.models import Message, Run
from agentcreator.state import AppState
from tests.api.billing_helpers import chat_calls, ledger, open_reservations
from tests.api.chat_helpers import make_chat, messages, send
from tests.conftest import UserSession
from tests.llm.openai_double import OpenAIDouble, Script, ToolCallScript
from tests.tools.scripted import function, scripted_functions

REPLY_ALLOWANCE = 1000
QUESTION = "2+2?"
# Default list prices of gpt-4o-mini, micro-dollars per 1M tokens.
INPUT_RATE, OUTPUT_RATE = 150_000, 600_000


async def _chat(client: httpx.AsyncClient, user: UserSession, model: str, **fields: Any) -> dict[str, Any]:
    _, conversation = await make_chat(client, user, model=model, parameters={"max_output_tokens": REPLY_ALLOWANCE},
                                      **fields)
    await client.patch(f"/api/conversations/{conversation['id']}", headers=user.headers, json={"title": "Fixed"})
    return conversation


async def _budget(client: httpx.AsyncClient, admin: UserSession, user: UserSession, **limits: int | None) -> None:
    response = await client.patch(f"/api/admin/budgets/users/{user.id}", headers=admin.headers, json=limits)
    assert response.status_code == 200, response.text


async def _context(state: AppState, message_id: str) -> dict[str, Any]:
    async with state.sessions() as session:
        context = (await session.execute(select(Message.context).where(Message.id == message_id))).scalar_one()
    return dict(context)


async def _prompt_tokens(client: httpx.AsyncClient, user: UserSession, openai_double: OpenAIDouble,
                         state: AppState, model: str) -> int:
    """The prompt of QUESTION as first message, as the server counts it (asked by another user, whose
    budget is not limited)."""
    conversation = await _chat(client, user, model)
    openai_double.push(Script(text=["4"]))
    answer = (await send(client, user, conversation["id"], QUESTION)).json()["assistant_message"]
    context = await _context(state, answer["id"])
    assert "reply_capped_to" not in context and answer["usage"].get("reply_capped_to") is None
    return int(context["total_tokens"])


def _sent_allowance(body: dict[str, Any]) -> int:
    """The reply allowance a request carried: Chat Completions ``max_tokens``, Responses ``max_output_tokens``."""
    return int(body.get("max_tokens") or body.get("max_completion_tokens") or body["max_output_tokens"])


async def test_a_small_token_budget_answers_with_a_capped_reply_and_never_overspends(
        client: httpx.AsyncClient, alice: UserSession, bob: UserSession, openai_double: OpenAIDouble,
        app_state: AppState) -> None:
    prompt = await _prompt_tokens(client, bob, openai_double, app_state, "double/gpt-4o-mini")
    room = 200  # reply tokens the budget has left beside the prompt: far less than the 1,000 allowance
    limit = prompt + room
    conversation = await _chat(client, alice, "double/gpt-4o-mini")
    await _budget(client, alice, alice, user_daily_tokens=limit)
    # the model uses every token it was allowed (and reports the prompt as counted)
    openai_double.push(Script(text=["4"], input_tokens=prompt, output_tokens=room))

    response = await send(client, alice, conversation["id"], QUESTION)

    assert response.status_code == 201, response.text
    body = openai_double.last_request.body
    assert "max_tokens" in body and _sent_allowance(body) == room  # Chat Completions: max_tokens
    answer = response.json()["assistant_message"]
    assert answer["status"] == "complete" and answer["text"] == "4"
    assert answer["usage"]["reply_capped_to"] == room
    assert (await _context(app_state, answer["id"]))["reply_capped_to"] == room
    stored = [m for m in await messages(client, alice, conversation["id"]) if m["role"] == "assistant"]
    assert stored[0]["usage"]["reply_capped_to"] == room  # what the footer reads after a reload
    row = (await ledger(app_state))[("user_day", alice.id)]
    assert (row.spent_tokens, row.reserved_tokens) == (limit, 0)  # all of it, and not one token more
    assert not await open_reservations(app_state)

    # nothing left: refused, before the provider is called, and nothing saved
    calls = chat_calls(openai_double)
    refused = await send(client, alice, conversation["id"], "And 3+3?")
    assert refused.status_code == 402 and refused.json()["error"]["code"] == "budget_exceeded"
    assert chat_calls(openai_double) == calls
    assert len(await messages(client, alice, conversation["id"])) == 2


@pytest.mark.parametrize(("room", "sent"), [(USEFUL_REPLY_TOKENS - 1, False), (USEFUL_REPLY_TOKENS, True)])
async def test_less_room_than_a_useful_reply_is_still_refused(
        client: httpx.AsyncClient, alice: UserSession, bob: UserSession, openai_double: OpenAIDouble,
        app_state: AppState, room: int, sent: bool) -> None:
    prompt = await _prompt_tokens(client, bob, openai_double, app_state, "double/gpt-4o-mini")
    conversation = await _chat(client, alice, "double/gpt-4o-mini")
    await _budget(client, alice, alice, user_daily_tokens=prompt + room)
    calls = chat_calls(openai_double)
    openai_double.push(Script(text=["4"], input_tokens=prompt, output_tokens=1))

    response = await send(client, alice, conversation["id"], QUESTION)

    if not sent:
        assert response.status_code == 402, response.text
        error = response.json()["error"]
        # what a useful reply needs, not the full allowance
        assert error["details"]["needed"] == prompt + USEFUL_REPLY_TOKENS
        assert chat_calls(openai_double) == calls and await messages(client, alice, conversation["id"]) == []
    else:
        assert response.status_code == 201, response.text
        assert _sent_allowance(openai_double.last_request.body) == USEFUL_REPLY_TOKENS
    row = (await ledger(app_state)).get(("user_day", alice.id))  # a refusal rolled back even its creation
    assert row is None if not sent else (row.reserved_tokens == 0 and row.spent_tokens <= prompt + room)


async def test_a_small_money_budget_caps_max_output_tokens_on_the_responses_api(
        client: httpx.AsyncClient, alice: UserSession, bob: UserSession, openai_double: OpenAIDouble,
        app_state: AppState) -> None:
    prompt = await _prompt_tokens(client, bob, openai_double, app_state, "openai/gpt-4o-mini")
    limit = 100  # micro-dollars: the full allowance would need ~600
    reply = (limit * 1_000_000 - prompt * INPUT_RATE) // OUTPUT_RATE
    assert USEFUL_REPLY_TOKENS <= reply < REPLY_ALLOWANCE
    conversation = await _chat(client, alice, "openai/gpt-4o-mini")
    await _budget(client, alice, alice, user_daily_micros=limit)
    openai_double.push(Script(text=["4"], input_tokens=prompt, output_tokens=reply))

    response = await send(client, alice, conversation["id"], QUESTION)

    assert response.status_code == 201, response.text
    body = openai_double.last_request.body
    assert openai_double.last_request.path.endswith("/responses") and body["max_output_tokens"] == reply
    answer = response.json()["assistant_message"]
    assert answer["usage"]["reply_capped_to"] == reply
    row = (await ledger(app_state))[("user_day", alice.id)]
    assert row.reserved_micros == 0 and 0 < row.spent_micros <= limit
    assert answer["cost_micros"] == row.spent_micros


async def test_an_assistant_budget_caps_too_and_the_user_budgets_hold_only_the_capped_call(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble, app_state: AppState) -> None:
    assistant, conversation = await make_chat(client, alice, parameters={"max_output_tokens": REPLY_ALLOWANCE})
    await client.patch(f"/api/conversations/{conversation['id']}", headers=alice.headers, json={"title": "Fixed"})
    response = await client.patch(f"/api/assistants/{assistant['id']}", headers=alice.headers,
                                  json={"budget_monthly_micros": 100})
    assert response.status_code == 200
    openai_double.push(Script(text=["4"]))
    answer = (await send(client, alice, conversation["id"], QUESTION)).json()["assistant_message"]
    capped = answer["usage"]["reply_capped_to"]
    assert USEFUL_REPLY_TOKENS <= capped < REPLY_ALLOWANCE
    assert _sent_allowance(openai_double.last_request.body) == capped
    rows = await ledger(app_state)
    row = rows[("assistant_month", assistant["id"])]
    assert row.reserved_micros == 0 and row.spent_micros <= 100
    # the user's budgets, reserved before the assistant's refused the full allowance, were given back:
    # they hold exactly the capped call
    for scope in ("user_day", "user_month"):
        user_row = rows[(scope, alice.id)]
        assert (user_row.reserved_micros, user_row.reserved_tokens) == (0, 0)
        assert (user_row.spent_micros, user_row.spent_tokens) == (row.spent_micros, row.spent_tokens)
    assert not await open_reservations(app_state)


async def test_each_round_of_a_run_is_capped_to_what_is_left(
        client: httpx.AsyncClient, alice: UserSession, openai_double: OpenAIDouble, app_state: AppState) -> None:
    """The first round (its tool definitions do not fit beside the turn's reservation: reserved anew) and
    the next (after the first spent most of the budget) both go out with their replies capped."""
    limit = 1000
    first_spent = 700
    openai_double.push(Script(tool_calls=[ToolCallScript("add", ['{"a": 1, "b": 2}'])], input_tokens=690,
                              output_tokens=10),
                       Script(text=["3"], input_tokens=100, output_tokens=1))
    with scripted_functions(app_state.tools) as tools:
        conversation = await _chat(client, alice, "double/gpt-4o-mini", tools=[function("add")])
        await _budget(client, alice, alice, user_daily_tokens=limit)
        answer = (await send(client, alice, conversation["id"], "Add")).json()["assistant_message"]
    assert answer["status"] == "complete" and answer["text"] == "3" and len(tools.log) == 1
    first, second = [r.body for r in openai_double.requests if r.path.endswith("/chat/completions")][-2:]
    prompt = (await _context(app_state, answer["id"]))["total_tokens"]
    # round 1: the prompt and the tool definitions, the reply capped to the rest
    assert "tools" in first and USEFUL_REPLY_TOKENS <= _sent_allowance(first) < limit - prompt
    async with app_state.sessions() as session:
        run = (await session.execute(select(Run).where(Run.message_id == answer["id"]))).scalar_one()
    # round 2: exactly what is left after round 1 and round 2's own prompt (noted on the run)
    assert _sent_allowance(second) == limit - first_spent - run.prompt_tokens
    assert answer["usage"]["reply_capped_to"] == min(_sent_allowance(first), _sent_allowance(second))
    row = (await ledger(app_state))[("user_day", alice.id)]
    assert row.reserved_tokens == 0 and row.spent_tokens == first_spent + 101 <= limit
    assert not await open_reservations(app_state)
