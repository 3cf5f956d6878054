"""Data the model layer speaks: requests, the stream-event union, usage and model descriptions.

Every provider turns a :class:`ModelRequest` into an async stream of :data:`StreamEvent`. The events
are pydantic models discriminated by ``type`` so the API layer can serialize them as they are.

Token counts in :class:`Usage`: ``input_tokens`` is the whole prompt *including* the cached part
(``cached_input_tokens`` is a subset of it), ``output_tokens`` includes ``reasoning_tokens``. The
pricer computes ``(input - cached) * input_rate + cached * cached_rate + output * output_rate``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

FinishReason = Literal["stop", "length", "tool_calls", "content_filter"]
Role = Literal["user", "assistant", "tool"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- request side -------------------------------------------------------------------------------


class TextPart(_Frozen):
    type: Literal["text"] = "text"
    text: str


class ImagePart(_Frozen):
    """An image by ``https://`` URL or ``data:`` URL."""

    type: Literal["image"] = "image"
    url: str
    detail: Literal["auto", "low", "high"] = "auto"


ContentPart = Annotated[TextPart | ImagePart, Field(discriminator="type")]


class ToolCall(_Frozen):
    """A function call the model made; ``arguments`` is the JSON text exactly as the model wrote it."""

    call_id: str
    name: str
    arguments: str = "{}"


class ChatMessage(_Frozen):
    role: Role
    content: list[ContentPart] = Field(default_factory=list)
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_call_id: str | None = None  # set on role="tool": the call this message answers

    @classmethod
    def user(cls, text: str, *images: str) -> ChatMessage:
        parts: list[TextPart | ImagePart] = [TextPart(text=text)]
        parts.extend(ImagePart(url=url) for url in images)
        return cls(role="user", content=parts)

    @classmethod
    def assistant(cls, text: str = "", tool_calls: list[ToolCall] | None = None) -> ChatMessage:
        return cls(role="assistant", content=[TextPart(text=text)] if text else [],
                   tool_calls=tool_calls or [])

    @classmethod
    def tool(cls, call_id: str, output: str) -> ChatMessage:
        return cls(role="tool", content=[TextPart(text=output)], tool_call_id=call_id)

    @property
    def text(self) -> str:
        return "".join(part.text for part in self.content if isinstance(part, TextPart))

    @property
    def images(self) -> list[ImagePart]:
        return [part for part in self.content if isinstance(part, ImagePart)]


class FunctionTool(_Frozen):
    name: str
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    strict: bool = False


HostedToolType = Literal["web_search", "file_search", "code_interpreter"]


class HostedTool(_Frozen):
    """A tool the provider runs itself (OpenAI's hosted tools, Responses API only). ``vector_store_ids``:
    the provider's own vector stores, for ``file_search``."""

    type: HostedToolType
    vector_store_ids: list[str] = Field(default_factory=list)


class ModelRequest(_Frozen):
    model: str  # the provider's own model name, e.g. "gpt-4o-mini" (not "openai/gpt-4o-mini")
    instructions: str = ""
    messages: list[ChatMessage] = Field(default_factory=list)
    tools: list[FunctionTool] = Field(default_factory=list)
    # Run by the provider inside this one call; only a provider that declares them gets any
    # (``ModelProvider.hosted_tool_types``: ``ensure_capabilities`` refuses the rest).
    hosted_tools: list[HostedTool] = Field(default_factory=list)
    # The most hosted calls the provider may make in this one call (Responses ``max_tool_calls``).
    max_hosted_calls: int | None = Field(None, ge=1)
    # With tools: "none" makes the model answer without calling any (a run's last round).
    tool_choice: Literal["auto", "none", "required"] | None = None
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    max_output_tokens: int | None = Field(None, ge=1)
    # Who the request is for (the user id): the embedded model serves waiting requests round-robin
    # by user. Never sent to a remote provider.
    user: str | None = None

    @property
    def has_images(self) -> bool:
        return any(message.images for message in self.messages)


# --- usage and errors ---------------------------------------------------------------------------


class Usage(_Frozen):
    input_tokens: int = Field(ge=0)
    cached_input_tokens: int = Field(0, ge=0)
    output_tokens: int = Field(ge=0)
    reasoning_tokens: int = Field(0, ge=0)
    estimated: bool = False  # counted by us (server sent none, or the stream broke)

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


class ProviderErrorInfo(_Frozen):
    code: str
    message: str
    retryable: bool = False
    status: int | None = None  # the upstream HTTP status, when there was one


# --- stream events ------------------------------------------------------------------------------


class TextDelta(_Frozen):
    type: Literal["text_delta"] = "text_delta"
    text: str


class ToolCallStarted(_Frozen):
    type: Literal["tool_call_started"] = "tool_call_started"
    index: int  # 0-based position of this call among the tool calls of the response
    call_id: str
    name: str


class ToolCallDelta(_Frozen):
    type: Literal["tool_call_delta"] = "tool_call_delta"
    index: int
    call_id: str
    arguments_delta: str


class ToolCallDone(_Frozen):
    type: Literal["tool_call_done"] = "tool_call_done"
    index: int
    call_id: str
    name: str
    arguments: str

    def to_tool_call(self) -> ToolCall:
        return ToolCall(call_id=self.call_id, name=self.name, arguments=self.arguments)


class HostedToolCall(_Frozen):
    """A call of a hosted tool, run by the provider inside this model call: sent when it starts, when
    its status changes and when it is done (``done``: its final status, arguments and results).
    ``call_id`` is the provider's output item id. ``arguments`` is JSON text (the query, the code);
    ``results`` are citation-shaped dicts (web sources, file passages) or code outputs, when given."""

    type: Literal["hosted_tool_call"] = "hosted_tool_call"
    call_id: str
    tool: HostedToolType
    status: Literal["in_progress", "searching", "interpreting", "completed", "incomplete", "failed"]
    arguments: str = "{}"
    results: list[dict[str, Any]] = Field(default_factory=list)
    container_id: str | None = None  # code_interpreter: the session it ran in (billed once per session)
    done: bool = False


class CitationAdded(_Frozen):
    """The answer's text cites a source (a ``url_citation`` / ``file_citation`` annotation)."""

    type: Literal["citation"] = "citation"
    title: str = ""
    url: str | None = None
    filename: str | None = None


class UsageReported(_Frozen):
    type: Literal["usage"] = "usage"
    usage: Usage


class Queued(_Frozen):
    """The (local) model is busy; this request waits at ``position`` (1 = next)."""

    type: Literal["queued"] = "queued"
    position: int


class Completed(_Frozen):
    type: Literal["completed"] = "completed"
    finish_reason: FinishReason
    usage: Usage | None = None


class Failed(_Frozen):
    type: Literal["failed"] = "failed"
    error: ProviderErrorInfo


StreamEvent = Annotated[
    TextDelta | ToolCallStarted | ToolCallDelta | ToolCallDone | HostedToolCall | CitationAdded | UsageReported
    | Queued | Completed | Failed,
    Field(discriminator="type"),
]
TERMINAL_EVENT_TYPES = frozenset({"completed", "failed"})


# --- results and descriptions -------------------------------------------------------------------


class ModelResponse(_Frozen):
    """A drained stream."""

    text: str
    tool_calls: list[ToolCall] = Field(default_factory=list)
    usage: Usage | None = None
    finish_reason: FinishReason


class ModelInfo(_Frozen):
    id: str  # "provider/model"
    provider: str
    name: str
    context_length: int
    max_output_tokens: int
    vision: bool = False
    tools: bool = False
    hosted_tools: list[str] = Field(default_factory=list)
    local: bool = False


class ModelSpec(_Frozen):
    """Declared or overridden capabilities of one model (servers rarely report them)."""

    name: str
    context_length: int | None = Field(None, ge=1)
    max_output_tokens: int | None = Field(None, ge=1)
    vision: bool | None = None
    tools: bool | None = None
    hosted_tools: list[str] | None = None

    def apply(self, info: ModelInfo) -> ModelInfo:
        changes = {key: value for key, value in self.model_dump(exclude={"name"}).items() if value is not None}
        return info.model_copy(update=changes)
