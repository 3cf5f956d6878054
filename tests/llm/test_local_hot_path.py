"""The local provider's hot path: the thread-to-loop handoff, and the prompt rendered once but
generating the same text as llama-cpp-python's ``create_chat_completion``."""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import AsyncIterator
from contextlib import aclosing
from pathlib import Path

import pytest

from agentcreator.llm.fair_queue import FairSlots
from agentcreator.llm.local_llamacpp import _END, CHAT_SAMPLING, SMOLLM2_NAME, LocalLlamaProvider, _Handoff
from agentcreator.llm.types import ChatMessage, Completed, TextDelta, UsageReported
from tests.llm.helpers import collect, request, terminal, text_of


def in_thread(target: object, *args: object) -> None:
    worker = threading.Thread(target=target, args=args)  # type: ignore[arg-type]
    worker.start()
    worker.join()


async def test_text_handed_over_while_the_consumer_is_busy_is_merged() -> None:
    loop = asyncio.get_running_loop()
    slots = FairSlots(1)
    await slots.acquire()
    handoff = _Handoff(loop, threading.Event())

    def produce() -> None:  # the consumer does not run meanwhile: everything lands in one batch
        for item in ("Hel", "lo", UsageReported.model_construct(), " wor", "ld"):
            handoff.put(item)
        handoff.end(slots)

    in_thread(produce)
    first = await handoff.batch()
    assert first[:3] == ["Hello", UsageReported.model_construct(), " world"]
    assert not slots.locked()  # the slot was freed by the same callback that ended the stream
    rest = first[3:] or await handoff.batch()
    assert rest == [_END]


async def test_each_item_is_its_own_batch_when_the_consumer_keeps_up() -> None:
    loop = asyncio.get_running_loop()
    handoff = _Handoff(loop, threading.Event())
    for text in ("a", "b", "c"):
        in_thread(handoff.put, text)
        assert await handoff.batch() == [text]


async def test_a_closed_loop_stops_the_generation() -> None:
    other = asyncio.new_event_loop()
    stop = threading.Event()
    handoff = _Handoff(other, stop)
    other.close()
    in_thread(handoff.put, "orphan")
    assert stop.is_set()
    in_thread(handoff.end, asyncio.Semaphore(1))  # logged, not raised


def test_sampling_defaults_are_those_of_create_chat_completion() -> None:
    llama_cpp = pytest.importorskip("llama_cpp")
    parameters = inspect.signature(llama_cpp.Llama.create_chat_completion).parameters
    defaults = {name: parameter.default for name, parameter in parameters.items()}
    assert {name: defaults[name] for name in CHAT_SAMPLING} == CHAT_SAMPLING


@pytest.fixture
async def local(smollm2_gguf: Path) -> AsyncIterator[LocalLlamaProvider]:
    provider = LocalLlamaProvider({SMOLLM2_NAME: smollm2_gguf}, n_ctx=2048)
    yield provider
    await provider.aclose()


@pytest.mark.local_model
@pytest.mark.parametrize("temperature", [0.0, None])
async def test_same_text_as_create_chat_completion(local: LocalLlamaProvider, smollm2_gguf: Path,
                                                   temperature: float | None) -> None:
    """Greedy, and with the default sampling (seeded identically on both sides by llama-cpp-python)."""
    import llama_cpp

    req = request(model=SMOLLM2_NAME, text="Name three colours.", max_output_tokens=40, temperature=temperature)
    events = await collect(local, req)
    assert isinstance(terminal(events), Completed)
    direct = llama_cpp.Llama(model_path=str(smollm2_gguf), n_ctx=2048, verbose=False)
    try:
        options = {} if temperature is None else {"temperature": temperature}
        answer = direct.create_chat_completion(
            messages=[{"role": "system", "content": req.instructions}, {"role": "user", "content": "Name three colours."}],
            max_tokens=40, **options)
    finally:
        direct.close()
    assert text_of(events) == answer["choices"][0]["message"]["content"]
    (usage,) = [event for event in events if isinstance(event, UsageReported)]
    assert usage.usage.input_tokens == answer["usage"]["prompt_tokens"]


@pytest.mark.local_model
async def test_a_slow_consumer_gets_the_tokens_merged(local: LocalLlamaProvider) -> None:
    model = local._models[SMOLLM2_NAME]
    req = request(model=SMOLLM2_NAME, text="Count from one to twenty.", max_output_tokens=24, temperature=0.0)
    async with aclosing(local.stream(req)) as stream:
        first = await anext(stream)
        assert isinstance(first, TextDelta)
        # Do not consume until the generation ended (it frees the slot last); a hang guard only.
        await asyncio.wait_for(model.slots.acquire(), 120)
        model.slots.release()
        rest = [event async for event in stream]
    deltas = [event for event in rest if isinstance(event, TextDelta)]
    assert len(deltas) == 1  # everything generated meanwhile came as one delta
    assert isinstance(terminal(rest), Completed)
    assert terminal(rest).usage.output_tokens >= 2
    whole = await collect(local, req)
    assert first.text + deltas[0].text == text_of(whole)  # merging loses nothing


@pytest.mark.local_model
async def test_counts_are_remembered_and_stay_exact(local: LocalLlamaProvider) -> None:
    model = local._models[SMOLLM2_NAME]
    history = [ChatMessage.user("Hello there"), ChatMessage.assistant("Hi! How can I help?")]
    first = [local.count_tokens(SMOLLM2_NAME, [message], "") for message in history]
    hits = model._count_cached.cache_info().hits
    again = [local.count_tokens(SMOLLM2_NAME, [message], "") for message in history]
    assert again == first and model._count_cached.cache_info().hits == hits + 2
    for messages in ([{"role": "user", "content": "Hello there"}], [{"role": "user", "content": "word " * 5_000}]):
        assert model.count_prompt(messages) == len(model.prompt(messages)[0])  # large ones are not cached
