"""Wire payloads of the OpenAI double: Responses events, Chat Completions chunks, model lists.

Event order follows /work/shared/PROTOCOLS.md: ``response.created`` first (sequence_number 0), then
``response.in_progress``; ``output_item.added`` and ``content_part.added`` precede the deltas; each
event carries a growing ``sequence_number``; ids are ``resp_``, ``msg_``, ``fc_``, ``call_``.
Streaming generators yield ``(is_delta, sse_bytes)`` so the server can cut or stall after N deltas.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.llm.openai_double import Script


def _id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


def models_list(ids: list[str]) -> dict[str, Any]:
    return {"object": "list",
            "data": [{"id": model, "object": "model", "created": 1_700_000_000, "owned_by": "double"}
                     for model in ids]}


# --- Responses API -----------------------------------------------------------------------------------


def _responses_usage(script: Script) -> dict[str, Any]:
    return {"input_tokens": script.input_tokens,
            "input_tokens_details": {"cached_tokens": script.cached_input_tokens},
            "output_tokens": script.usage_output_tokens,
            "output_tokens_details": {"reasoning_tokens": script.reasoning_tokens},
            "total_tokens": script.input_tokens + script.usage_output_tokens}


def _url_citation(text: str, url: str, title: str) -> dict[str, Any]:
    return {"type": "url_citation", "start_index": 0, "end_index": len(text), "url": url, "title": title}


def _message_item(item_id: str, text: str, status: str,
                  citations: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    annotations = [_url_citation(text, url, title) for url, title in citations or []]
    content = [{"type": "output_text", "text": text, "annotations": annotations, "logprobs": []}] \
        if status != "in_progress" else []
    return {"id": item_id, "type": "message", "status": status, "role": "assistant", "content": content}


def _hosted_item(call: Any, include: list[str], done: bool) -> dict[str, Any]:
    """A ``web_search_call`` / ``file_search_call`` / ``code_interpreter_call`` output item."""
    status = call.status if done else "in_progress"
    item: dict[str, Any] = {"id": call.item_id, "type": f"{call.type}_call", "status": status}
    if call.type == "web_search":
        action: dict[str, Any] = {"type": "search", "query": call.query, "queries": [call.query]}
        if "web_search_call.action.sources" in include:
            action["sources"] = [{"type": "url", "url": url} for url in call.sources]
        if done:
            item["action"] = action
    elif call.type == "file_search":
        item["queries"] = [call.query] if done else []
        item["results"] = call.results if done and "file_search_call.results" in include else None
    else:
        item["container_id"] = call.container_id
        item["code"] = "".join(call.code) if done else ""
        outputs = [{"type": "logs", "logs": call.logs}] if call.logs else []
        item["outputs"] = outputs if done and "code_interpreter_call.outputs" in include else None
    return item


def _hosted_events(call: Any, index: int, include: list[str], event: Any) -> Iterator[tuple[bool, bytes]]:
    """One hosted call's events in the order OpenAI streams them."""
    yield event("response.output_item.added", output_index=index, item=_hosted_item(call, include, False))
    ids = {"item_id": call.item_id, "output_index": index}
    if call.type == "code_interpreter":
        yield event("response.code_interpreter_call.in_progress", **ids)
        for fragment in call.code:
            yield event("response.code_interpreter_call_code.delta", True, **ids, delta=fragment)
        yield event("response.code_interpreter_call_code.done", **ids, code="".join(call.code))
        yield event("response.code_interpreter_call.interpreting", **ids)
    else:
        yield event(f"response.{call.type}_call.in_progress", **ids)
        yield event(f"response.{call.type}_call.searching", **ids)
    if call.status == "completed":
        yield event(f"response.{call.type}_call.completed", **ids)
    yield event("response.output_item.done", output_index=index, item=_hosted_item(call, include, True))


def _call_item(item_id: str, call: Any, arguments: str, status: str) -> dict[str, Any]:
    return {"id": item_id, "type": "function_call", "status": status, "call_id": call.call_id,
            "name": call.name, "arguments": arguments}


class _Response:
    def __init__(self, script: Script, body: dict[str, Any]) -> None:
        self.script = script
        self.body = body
        self.id = _id("resp")
        self.created_at = int(time.time())
        self.message_id = _id("msg")
        self.call_ids = [_id("fc") for _ in script.tool_calls]

    def output(self) -> list[dict[str, Any]]:
        include = self.body.get("include") or []
        items = [_hosted_item(call, include, True) for call in self.script.hosted_calls]
        if self.script.text:
            items.append(_message_item(self.message_id, "".join(self.script.text), "completed",
                                       self.script.citations))
        items.extend(_call_item(item_id, call, call.full_arguments, "completed")
                     for item_id, call in zip(self.call_ids, self.script.tool_calls, strict=True))
        return items

    def obj(self, status: str, output: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        body = self.body
        response = {
            "id": self.id, "object": "response", "created_at": self.created_at, "status": status,
            "background": False, "error": None, "incomplete_details": None,
            "instructions": body.get("instructions"), "max_output_tokens": body.get("max_output_tokens"),
            "max_tool_calls": None, "model": body.get("model", "gpt-4o-mini"), "output": output,
            "parallel_tool_calls": True, "previous_response_id": None,
            "reasoning": {"effort": None, "summary": None}, "service_tier": "default",
            "store": body.get("store", True), "temperature": body.get("temperature", 1.0),
            "text": {"format": {"type": "text"}, "verbosity": "medium"}, "tool_choice": "auto",
            "tools": body.get("tools", []), "top_logprobs": 0, "top_p": body.get("top_p", 1.0),
            "truncation": "disabled", "usage": None, "user": None, "metadata": {},
        }
        response.update(extra)
        return response

    def final(self) -> tuple[str, dict[str, Any]]:
        script = self.script
        if script.outcome == "incomplete":
            return "response.incomplete", self.obj("incomplete", self.output(), usage=_responses_usage(script),
                                                   incomplete_details={"reason": script.incomplete_reason})
        if script.outcome == "failed":
            error = {"code": script.failure_code, "message": script.failure_message}
            return "response.failed", self.obj("failed", self.output(), error=error)
        return "response.completed", self.obj("completed", self.output(), usage=_responses_usage(script))


def response_object(script: Script, body: dict[str, Any]) -> dict[str, Any]:
    return _Response(script, body).final()[1]


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def responses_events(script: Script, body: dict[str, Any]) -> Iterator[tuple[bool, bytes]]:
    response = _Response(script, body)
    sequence = 0

    def event(kind: str, is_delta: bool = False, **data: Any) -> tuple[bool, bytes]:
        nonlocal sequence
        payload = {"type": kind, "sequence_number": sequence, **data}
        sequence += 1
        return is_delta, _sse(kind, payload)

    yield event("response.created", response=response.obj("in_progress", []))
    yield event("response.in_progress", response=response.obj("in_progress", []))
    index = 0
    for call in script.hosted_calls:
        yield from _hosted_events(call, index, body.get("include") or [], event)
        index += 1
    if script.text:
        item_id, text = response.message_id, "".join(script.text)
        yield event("response.output_item.added", output_index=index,
                    item=_message_item(item_id, "", "in_progress"))
        part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        yield event("response.content_part.added", item_id=item_id, output_index=index, content_index=0,
                    part=part)
        for chunk in script.text:
            yield event("response.output_text.delta", True, item_id=item_id, output_index=index,
                        content_index=0, delta=chunk, logprobs=[])
        for number, (url, title) in enumerate(script.citations):
            yield event("response.output_text.annotation.added", item_id=item_id, output_index=index,
                        content_index=0, annotation_index=number, annotation=_url_citation(text, url, title))
        yield event("response.output_text.done", item_id=item_id, output_index=index, content_index=0,
                    text=text, logprobs=[])
        done_item = _message_item(item_id, text, "completed", script.citations)
        yield event("response.content_part.done", item_id=item_id, output_index=index, content_index=0,
                    part=done_item["content"][0])
        yield event("response.output_item.done", output_index=index, item=done_item)
        index += 1
    for item_id, call in zip(response.call_ids, script.tool_calls, strict=True):
        yield event("response.output_item.added", output_index=index,
                    item=_call_item(item_id, call, "", "in_progress"))
        for fragment in call.arguments:
            yield event("response.function_call_arguments.delta", True, item_id=item_id, output_index=index,
                        delta=fragment)
        yield event("response.function_call_arguments.done", item_id=item_id, output_index=index,
                    name=call.name, arguments=call.full_arguments)
        yield event("response.output_item.done", output_index=index,
                    item=_call_item(item_id, call, call.full_arguments, "completed"))
        index += 1
    if script.outcome == "error_event":
        yield event("error", code=script.failure_code, message=script.failure_message, param=None)
        return
    kind, final = response.final()
    yield event(kind, response=final)


# --- Chat Completions ----------------------------------------------------------------------------------


def _chat_usage(script: Script) -> dict[str, Any]:
    return {"prompt_tokens": script.input_tokens, "completion_tokens": script.usage_output_tokens,
            "total_tokens": script.input_tokens + script.usage_output_tokens,
            "prompt_tokens_details": {"cached_tokens": script.cached_input_tokens},
            "completion_tokens_details": {"reasoning_tokens": script.reasoning_tokens}}


def _finish_reason(script: Script) -> str:
    if script.finish_reason:
        return script.finish_reason
    if script.outcome == "incomplete":
        return "content_filter" if script.incomplete_reason == "content_filter" else "length"
    return "tool_calls" if script.tool_calls else "stop"


def chat_completion(script: Script, body: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": "".join(script.text) or None, "refusal": None}
    if script.tool_calls:
        message["tool_calls"] = [{"id": call.call_id, "type": "function",
                                  "function": {"name": call.name, "arguments": call.full_arguments}}
                                 for call in script.tool_calls]
    return {"id": _id("chatcmpl"), "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", "model"), "system_fingerprint": None,
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": _finish_reason(script)}],
            "usage": _chat_usage(script)}


def chat_events(script: Script, body: dict[str, Any]) -> Iterator[tuple[bool, bytes]]:
    completion_id, created, model = _id("chatcmpl"), int(time.time()), body.get("model", "model")

    def chunk(delta: dict[str, Any] | None, finish: str | None = None, is_delta: bool = False,
              **extra: Any) -> tuple[bool, bytes]:
        choices = [] if delta is None else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
        data = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model,
                "system_fingerprint": None, "choices": choices, **extra}
        return is_delta, f"data: {json.dumps(data)}\n\n".encode()

    yield chunk({"role": "assistant", "content": ""})
    for text in script.text:
        yield chunk({"content": text}, is_delta=True)
    for index, call in enumerate(script.tool_calls):
        yield chunk({"tool_calls": [{"index": index, "id": call.call_id, "type": "function",
                                     "function": {"name": call.name, "arguments": ""}}]})
        for fragment in call.arguments:
            yield chunk({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]}, is_delta=True)
    if script.outcome in ("failed", "error_event"):
        error = {"message": script.failure_message, "type": "server_error", "param": None,
                 "code": script.failure_code}
        yield False, f"data: {json.dumps({'error': error})}\n\n".encode()
        return
    yield chunk({}, _finish_reason(script))
    include_usage = (body.get("stream_options") or {}).get("include_usage")
    if include_usage and script.include_usage:
        yield chunk(None, usage=_chat_usage(script))
    yield False, b"data: [DONE]\n\n"
