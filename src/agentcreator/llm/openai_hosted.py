"""OpenAI's hosted tools in the Responses API: the request side (``tools`` entries and ``include``)
and the stream side (their calls and the answer's citations as our events).

Event mapping (SDK event -> ours):

* ``response.output_item.added`` (``web_search_call`` / ``file_search_call`` / ``code_interpreter_call``)
  -> ``HostedToolCall`` (its status, usually ``in_progress``)
* ``response.web_search_call.in_progress|searching|completed``, ``response.file_search_call.*``,
  ``response.code_interpreter_call.in_progress|interpreting|completed`` -> ``HostedToolCall`` (the status)
* ``response.code_interpreter_call_code.delta`` / ``.done`` -> kept; the code is the call's arguments
* ``response.output_item.done`` (a hosted call) -> ``HostedToolCall(done=True)`` with the item's final
  status, arguments (the query, the queries, the code) and results (sources, passages, outputs)
* ``response.output_text.annotation.added`` (``url_citation``, ``file_citation``) -> ``CitationAdded``
  (once per URL or file in a response)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from agentcreator.llm.types import CitationAdded, HostedTool, HostedToolCall, StreamEvent

HOSTED_TOOL_TYPES = frozenset({"web_search", "file_search", "code_interpreter"})
ITEM_TOOLS = {"web_search_call": "web_search", "file_search_call": "file_search",
              "code_interpreter_call": "code_interpreter"}
# What the stream should carry besides the answer: web sources, file passages, code outputs.
_INCLUDES = {"web_search": "web_search_call.action.sources", "file_search": "file_search_call.results",
             "code_interpreter": "code_interpreter_call.outputs"}
_STATUS_PREFIXES = ("response.web_search_call.", "response.file_search_call.", "response.code_interpreter_call.")
_STATUSES = frozenset({"in_progress", "searching", "interpreting", "completed", "incomplete", "failed"})
_CODE_DELTAS = ("response.code_interpreter_call_code.delta", "response.code_interpreter_call.code.delta")
_CODE_DONE = ("response.code_interpreter_call_code.done", "response.code_interpreter_call.code.done")
_ANNOTATIONS = ("response.output_text.annotation.added", "response.output_text_annotation.added")
SNIPPET_CHARS = 300
TITLE_CHARS = 300
URL_CHARS = 2000


def web_url(value: Any) -> str | None:
    """``value`` if it is an http(s) URL of a sane length, else None: what the model or a page it read
    cites is untrusted and ends up as a link in the browser (no ``javascript:``)."""
    if not isinstance(value, str) or len(value) > URL_CHARS:
        return None
    return value if value[:8].lower().startswith(("https://", "http://")) else None


def _title(value: Any, fallback: str) -> str:
    text = " ".join(value.split()) if isinstance(value, str) else ""
    return (text or fallback)[:TITLE_CHARS]


def hosted_tool_params(tools: list[HostedTool]) -> tuple[list[dict[str, Any]], list[str]]:
    """The ``tools`` entries and the ``include`` values for ``tools``."""
    entries: list[dict[str, Any]] = []
    for tool in tools:
        if tool.type == "file_search":
            entries.append({"type": "file_search", "vector_store_ids": list(tool.vector_store_ids)})
        elif tool.type == "code_interpreter":
            entries.append({"type": "code_interpreter", "container": {"type": "auto"}})
        else:
            entries.append({"type": tool.type})
    return entries, [_INCLUDES[tool.type] for tool in tools]


def _plain(value: Any) -> Any:
    """An SDK model (or a dict the SDK left untyped) as plain JSON-like data."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json", exclude_none=True)
    return value


def _details(tool: str, item: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(arguments, results) of a hosted call item."""
    if tool == "web_search":
        action = item.get("action") or {}
        arguments = {key: action[key] for key in ("query", "queries", "url", "pattern") if action.get(key)}
        urls = [web_url(source.get("url")) for source in action.get("sources") or [] if isinstance(source, dict)]
        results = [{"type": "citation", "url": url, "title": _title(None, url)} for url in urls if url]
        return arguments, results
    if tool == "file_search":
        results = [{"type": "citation", "title": _title(hit.get("filename"), str(hit.get("file_id") or "")),
                    "filename": hit.get("filename"), "snippet": " ".join((hit.get("text") or "").split())[:SNIPPET_CHARS],
                    "score": hit.get("score")} for hit in item.get("results") or [] if isinstance(hit, dict)]
        return {"queries": item.get("queries") or []}, results
    outputs = [out for out in item.get("outputs") or [] if isinstance(out, dict)]
    return ({"code": item["code"]} if item.get("code") else {}), outputs


@dataclass
class _Hosted:
    call_id: str
    tool: str
    code: list[str] = field(default_factory=list)


@dataclass
class HostedMapper:
    """The hosted-tool half of a Responses stream's mapping (see the module's docstring)."""

    by_key: dict[str, _Hosted] = field(default_factory=dict)  # by item id and by "#output_index"
    cited: set[str] = field(default_factory=set)
    calls: int = 0

    def _find(self, event: Any) -> _Hosted | None:
        return self.by_key.get(getattr(event, "item_id", None) or "") or self.by_key.get(
            f"#{getattr(event, 'output_index', -1)}")

    def feed(self, event: Any) -> list[StreamEvent] | None:
        """Our events for ``event``, or None when it is not about a hosted tool or a citation."""
        kind: str = event.type
        if kind in ("response.output_item.added", "response.output_item.done"):
            item = _plain(event.item)
            tool = ITEM_TOOLS.get(item.get("type", "")) if isinstance(item, dict) else None
            if tool is None:
                return None
            return [self._item(event, item, tool, done=kind.endswith(".done"))]
        if kind in _ANNOTATIONS:
            return self._citation(_plain(event.annotation))
        if kind in _CODE_DELTAS or kind in _CODE_DONE:
            call = self._find(event)
            if call is not None:
                if kind in _CODE_DONE and getattr(event, "code", None) is not None:
                    call.code = [event.code]
                elif kind in _CODE_DELTAS:
                    call.code.append(event.delta)
            return []
        if kind.startswith(_STATUS_PREFIXES):
            status = kind.rsplit(".", 1)[1]
            call = self._find(event)
            if call is None or status not in _STATUSES:
                return []
            return [HostedToolCall(call_id=call.call_id, tool=call.tool, status=status)]  # type: ignore[arg-type]
        return None

    def _item(self, event: Any, item: dict[str, Any], tool: str, *, done: bool) -> HostedToolCall:
        item_id = str(item.get("id") or f"hosted_{event.output_index}")
        call = self.by_key.get(item_id)
        if call is None:
            call = _Hosted(item_id, tool)
            self.calls += 1
            self.by_key[item_id] = self.by_key[f"#{event.output_index}"] = call
        arguments, results = _details(tool, item)
        if tool == "code_interpreter" and "code" not in arguments and call.code:
            arguments = {"code": "".join(call.code)}
        status = item.get("status") if item.get("status") in _STATUSES else ("completed" if done else "in_progress")
        return HostedToolCall(call_id=call.call_id, tool=tool, status=status,  # type: ignore[arg-type]
                              arguments=json.dumps(arguments, ensure_ascii=False), results=results if done else [],
                              container_id=item.get("container_id"), done=done)

    def _citation(self, annotation: Any) -> list[StreamEvent]:
        if not isinstance(annotation, dict):
            return []
        kind = annotation.get("type")
        url = web_url(annotation.get("url"))
        if kind == "url_citation" and url:
            key, event = url, CitationAdded(url=url, title=_title(annotation.get("title"), url))
        elif kind == "file_citation" and (annotation.get("filename") or annotation.get("file_id")):
            name = _title(annotation.get("filename"), str(annotation.get("file_id")))
            key, event = f"file:{name}", CitationAdded(title=name, filename=name)
        else:
            return []
        if key in self.cited:
            return []
        self.cited.add(key)
        return [event]
