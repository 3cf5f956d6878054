"""The upstream SSE decoder and the per-read coalescing of Chat Completions text deltas."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx2
import openai
import pytest

from agentcreator.llm.openai_chat import _ChatMapper, _read_chunks
from agentcreator.llm.sse import SSEDecoder, SSEEvent
from agentcreator.llm.types import TextDelta, ToolCallDelta, ToolCallStarted


def feed_all(decoder: SSEDecoder, *chunks: bytes) -> list[SSEEvent]:
    return [event for chunk in chunks for event in decoder.feed(chunk)]


def test_events_split_anywhere_across_reads() -> None:
    stream = b'data: {"a":1}\r\n\r\n: keep-alive comment\n\nevent: done\ndata: x\ndata:y\r\rdata: [DONE]\n\n'
    whole = feed_all(SSEDecoder(), stream)
    assert whole == [SSEEvent(None, b'{"a":1}'), SSEEvent("done", b"x\ny"), SSEEvent(None, b"[DONE]")]
    for size in (1, 2, 3, 5, 7):  # every split point, including between the CR and LF of a CRLF
        pieces = [stream[i:i + size] for i in range(0, len(stream), size)]
        assert feed_all(SSEDecoder(), *pieces) == whole, size


def test_one_leading_space_is_dropped_and_unknown_fields_ignored() -> None:
    events = SSEDecoder().feed(b"id: 7\nretry: 10\ndata:  two spaces\nfoo\n\n")
    assert events == [SSEEvent(None, b" two spaces")]


def test_an_event_without_a_blank_line_is_not_delivered() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: half") == []
    assert decoder.feed(b"\n") == []
    assert decoder.feed(b"\n") == [SSEEvent(None, b"half")]


def _chunk(**delta: object) -> bytes:
    body = {"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta,
                                                                        "finish_reason": None}]}
    return b"data: " + json.dumps(body).encode() + b"\n\n"


def _response(*reads: bytes) -> httpx2.Response:
    async def body() -> AsyncIterator[bytes]:
        for read in reads:
            yield read

    return httpx2.Response(200, content=body(), request=httpx2.Request("POST", "http://upstream/chat/completions"))


async def _events(*reads: bytes) -> list[list[object]]:
    return [batch async for batch in _read_chunks(_response(*reads), _ChatMapper())]


async def test_text_of_one_read_is_one_delta_and_reads_stay_separate() -> None:
    batches = await _events(_chunk(content="Hel") + _chunk(content="lo"), _chunk(content=" world"))
    assert batches == [[TextDelta(text="Hello")], [TextDelta(text=" world")]]


async def test_text_and_tool_calls_keep_their_order_within_a_read() -> None:
    call = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    (batch,) = await _events(_chunk(content="a") + _chunk(content="b") + _chunk(tool_calls=[call])
                             + _chunk(content="c"))
    assert [type(e) for e in batch] == [TextDelta, ToolCallStarted, ToolCallDelta, TextDelta]
    assert (batch[0].text, batch[3].text) == ("ab", "c")


async def test_an_error_object_comes_after_the_text_before_it() -> None:
    error = b'data: {"error": {"message": "worker died", "code": "server_error"}}\n\n'
    reader = _read_chunks(_response(_chunk(content="so far") + error), _ChatMapper())
    assert await reader.__anext__() == [TextDelta(text="so far")]
    with pytest.raises(openai.APIError, match="worker died") as raised:
        await reader.__anext__()
    assert raised.value.body == {"message": "worker died", "code": "server_error"}


async def test_what_follows_done_is_read_but_ignored() -> None:
    batches = await _events(_chunk(content="x") + b"data: [DONE]\n\n" + _chunk(content="late"), _chunk(content="y"))
    assert batches == [[TextDelta(text="x")]]
