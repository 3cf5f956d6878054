"""Assistant schemas: AssistantCreate, AssistantUpdate, AssistantPublic, AssistantsPublic, and the
export document (AssistantExport) that ``/export`` produces and ``/import`` reads back."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from agentcreator.api.schemas.common import Page, StrictInput
from agentcreator.services.assistants import EXPORT_FORMAT, EXPORT_VERSION
from agentcreator.services.function_secrets import mask_tools
from agentcreator.tools.http_functions import check_url_template

MAX_TOOLS = 32
MAX_TAGS = 20

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Description = Annotated[str, Field(max_length=2000)]
Instructions = Annotated[str, Field(max_length=100_000)]
# "provider/model"; no control characters (the column is a plain VARCHAR on every database).
ModelRef = Annotated[str, StringConstraints(max_length=200, pattern=r"^[A-Za-z0-9._-]+/[^\x00-\x1f\x7f]+$")]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
MaxMessages = Annotated[int, Field(ge=2, le=10_000)]
HistoryWindow = Annotated[int, Field(ge=1, le=1000)]
# The assistant's own monthly budget (micro-dollars, tokens); null: no limit besides the user's.
BudgetMicros = Annotated[int, Field(ge=0, le=10**15)]
BudgetTokens = Annotated[int, Field(ge=0, le=10**15)]


# Where web search, file search and the code interpreter run (tools/hosted.py, docs/tools.md): "auto"
# on the model's provider when it can run them (OpenAI, enabled by the admin), else on this server;
# "provider": hosted only; "server": this server only. Left out of answers when "auto".
Hosting = Literal["auto", "provider", "server"]
_HOSTING = Field("auto", exclude_if=lambda value: value == "auto")


class FileSearchTool(StrictInput):
    """Search the owner's knowledge bases (each id must name one of them) and, hosted on OpenAI, the
    provider's vector stores the admin shares (``vector_store_ids``)."""

    type: Literal["file_search"]
    knowledge_base_ids: Annotated[list[Annotated[str, Field(min_length=1, max_length=64)]],
                                  Field(max_length=20)] = Field(default_factory=list)
    vector_store_ids: Annotated[list[Annotated[str, StringConstraints(pattern=r"^vs_[A-Za-z0-9_-]{1,100}$")]],
                                Field(max_length=10)] = Field(default_factory=list, exclude_if=lambda value: not value)
    hosting: Hosting = _HOSTING
    top_k: Annotated[int, Field(ge=1, le=50)] = 5
    # Minimum cosine similarity of a passage to the query (0..1); null: none.
    threshold: Annotated[float, Field(ge=0, le=1)] | None = None


class CodeInterpreterTool(StrictInput):
    type: Literal["code_interpreter"]
    hosting: Hosting = _HOSTING


class WebSearchTool(StrictInput):
    type: Literal["web_search"]
    hosting: Hosting = _HOSTING


def _json_schema_object(value: dict[str, Any]) -> dict[str, Any]:
    if value.get("type", "object") != "object":
        raise PydanticCustomError("schema_not_object", "function parameters must be a JSON schema of type 'object'")
    return value


# RFC 9110 token; no headers that belong to the connection or to the request's own framing.
HeaderName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$")]
HeaderValue = Annotated[str, StringConstraints(max_length=4096, pattern=r"^[^\x00-\x08\x0a-\x1f\x7f]*$")]
_RESERVED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection", "upgrade",
                               "te", "trailer", "keep-alive", "proxy-authorization", "proxy-connection"})


class FunctionEndpoint(StrictInput):
    """Where a server-side function sends its request. ``{param}`` placeholders in the path or query
    of ``url`` take the argument of that name; the arguments named in ``query`` go to the query string;
    the rest go to the query string (GET, DELETE) or a JSON body (POST, PUT, PATCH). Header values are
    secrets: stored encrypted, shown as ``********``; sending ``********`` back keeps the stored value."""

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    url: Annotated[str, StringConstraints(min_length=8, max_length=2000)]
    headers: Annotated[dict[HeaderName, HeaderValue], Field(max_length=20)] = Field(default_factory=dict)
    query: Annotated[list[Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]],
                     Field(max_length=64)] = Field(default_factory=list)

    @field_validator("url")
    @classmethod
    def _url_template(cls, value: str) -> str:
        try:
            check_url_template(value)
        except ValueError as exc:
            raise PydanticCustomError("bad_endpoint_url", "{reason}", {"reason": str(exc)}) from exc
        return value

    @field_validator("headers")
    @classmethod
    def _header_names(cls, value: dict[str, str]) -> dict[str, str]:
        lowered = [name.lower() for name in value]
        reserved = sorted({n for n in lowered if n in _RESERVED_HEADERS})
        if reserved:
            raise PydanticCustomError("reserved_header", "these headers are set by the server: {names}",
                                      {"names": ", ".join(reserved)})
        if len(set(lowered)) != len(lowered):
            raise PydanticCustomError("duplicate_header", "a header is named twice (names ignore case)")
        return value


class FunctionTool(StrictInput):
    """A function the model may call: sent to its HTTP ``endpoint`` by the server, or, without one,
    run by the API caller (the run waits for its output)."""

    type: Literal["function"]
    name: Annotated[str, StringConstraints(pattern=r"^[a-zA-Z0-9_-]{1,64}$")]
    description: Annotated[str, Field(max_length=1024)] = ""
    parameters: Annotated[dict[str, Any], AfterValidator(_json_schema_object)] = Field(
        default_factory=lambda: {"type": "object", "properties": {}})
    # Left out of answers when absent, so functions without one look as they always did.
    endpoint: FunctionEndpoint | None = Field(None, exclude_if=lambda value: value is None)

    @model_validator(mode="after")
    def _placeholders_are_parameters(self) -> FunctionTool:
        if self.endpoint is None:
            return self
        properties = self.parameters.get("properties")
        names = set(properties) if isinstance(properties, dict) else set()
        missing = sorted(set(check_url_template(self.endpoint.url)) - names)
        if missing:
            raise PydanticCustomError("unknown_placeholder",
                                      "URL placeholders must be parameters of the function: {names}",
                                      {"names": ", ".join(missing)})
        return self


class AssistantTool(StrictInput):
    """Another of the owner's assistants, used as a tool ("call") or taking over the turn ("handoff")."""

    type: Literal["assistant"]
    assistant_id: Annotated[str, Field(min_length=1, max_length=64)]
    mode: Literal["handoff", "call"] = "call"


McpToolName = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")]
McpToolNames = Annotated[list[McpToolName], Field(max_length=200), AfterValidator(lambda v: list(dict.fromkeys(v)))]


class McpServerTool(StrictInput):
    """Tools of an admin-registered MCP server (``GET /api/mcp-servers`` lists them). The server must
    exist and be enabled; ``tools`` names the server's tools to use (empty: all of them)."""

    type: Literal["mcp"]
    server: Annotated[str, Field(min_length=1, max_length=64, description="The server's name or id")]
    tools: McpToolNames = Field(default_factory=list)


Tool = Annotated[
    FileSearchTool | CodeInterpreterTool | WebSearchTool | FunctionTool | AssistantTool | McpServerTool,
    Field(discriminator="type"),
]


def _check_tools(tools: list[Any]) -> list[Any]:
    names = [t.name for t in tools if isinstance(t, FunctionTool)]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise PydanticCustomError("duplicate_function_name", "duplicate function tool names: {names}",
                                  {"names": ", ".join(duplicates)})
    return tools


def _dedupe(tags: list[str]) -> list[str]:
    return list(dict.fromkeys(tags))


Tools = Annotated[list[Tool], Field(max_length=MAX_TOOLS), AfterValidator(_check_tools)]
Tags = Annotated[list[Tag], Field(max_length=MAX_TAGS), AfterValidator(_dedupe)]


class AssistantParameters(StrictInput):
    """Sampling parameters; null means "the model's default"."""

    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    top_p: Annotated[float, Field(ge=0, le=1)] | None = None
    max_output_tokens: Annotated[int, Field(ge=1, le=200_000)] | None = None


class AssistantCreate(StrictInput):
    name: Name
    description: Description = ""
    instructions: Instructions = ""
    # null or absent: the platform default (settings.llm.default_model).
    model: ModelRef | None = None
    tools: Tools = Field(default_factory=list)
    parameters: AssistantParameters = Field(default_factory=AssistantParameters)
    # null or absent: the platform defaults (settings.limits).
    max_messages: MaxMessages | None = None
    history_window: HistoryWindow | None = None
    budget_monthly_micros: BudgetMicros | None = None
    budget_monthly_tokens: BudgetTokens | None = None
    summarize_dropped: bool = Field(False, description=(
        "Keep a running summary of the messages that fall out of the history window and send it "
        "with the instructions (one extra, metered model call when messages drop out)"))
    tags: Tags = Field(default_factory=list)


class AssistantUpdate(StrictInput):
    """Partial update: only the fields sent change. ``parameters`` and ``tools`` are replaced whole."""

    name: Name | None = None
    description: Description | None = None
    instructions: Instructions | None = None
    model: ModelRef | None = None
    tools: Tools | None = None
    parameters: AssistantParameters | None = None
    max_messages: MaxMessages | None = None
    history_window: HistoryWindow | None = None
    # null removes the assistant's own limit.
    budget_monthly_micros: BudgetMicros | None = None
    budget_monthly_tokens: BudgetTokens | None = None
    summarize_dropped: bool | None = None
    tags: Tags | None = None

    @model_validator(mode="after")
    def _no_explicit_null(self) -> AssistantUpdate:
        nullable = {"budget_monthly_micros", "budget_monthly_tokens"}
        nulls = sorted(f for f in self.model_fields_set if getattr(self, f) is None and f not in nullable)
        if nulls:
            raise PydanticCustomError("null_not_allowed", "fields may be omitted but not null: {fields}",
                                      {"fields": ", ".join(nulls)})
        return self


class AssistantPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    description: str
    instructions: str
    model: str
    tools: list[Tool]
    parameters: AssistantParameters
    max_messages: int
    history_window: int
    budget_monthly_micros: int | None = None
    budget_monthly_tokens: int | None = None
    summarize_dropped: bool = False
    tags: list[str]
    created_at: datetime
    updated_at: datetime

    @field_validator("tools", mode="before")
    @classmethod
    def _mask_secrets(cls, value: Any) -> Any:
        """Stored header values are ciphertext: the API shows only their names."""
        return mask_tools(value)


class AssistantsPublic(Page[AssistantPublic]):
    pass


MaxDocument = Annotated[str, Field(min_length=2, max_length=1_000_000)]


class FunctionImport(StrictInput):
    """An OpenAPI 3 document (JSON or YAML text) to turn into function tools, one per operation."""

    document: MaxDocument
    # The API's base URL; absent: the document's first absolute ``servers`` URL.
    base_url: Annotated[str, StringConstraints(max_length=2000)] | None = None


class SkippedOperation(BaseModel):
    operation: str
    reason: str


class FunctionsPublic(BaseModel):
    """The function configs found, ready to add to an assistant's ``tools`` (headers still to fill)."""

    data: list[FunctionTool]
    count: int
    skipped: list[SkippedOperation]


class AssistantExport(StrictInput):
    """``GET /export`` writes it, ``POST /import`` reads it back; ``exported_at`` is optional on import."""

    format: str
    version: int
    exported_at: datetime | None = None
    assistant: AssistantCreate

    @field_validator("format")
    @classmethod
    def _known_format(cls, value: str) -> str:
        if value != EXPORT_FORMAT:
            raise PydanticCustomError(
                "unsupported_format", "unsupported export format '{got}'; expected '{expected}'",
                {"got": value[:100], "expected": EXPORT_FORMAT})
        return value

    @field_validator("version")
    @classmethod
    def _known_version(cls, value: int) -> int:
        if value != EXPORT_VERSION:
            raise PydanticCustomError(
                "unsupported_version", "unsupported export version {got}; this server reads version {expected}",
                {"got": value, "expected": EXPORT_VERSION})
        return value
