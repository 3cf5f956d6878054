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


class FileSearchTool(StrictInput):
    """Search the owner's knowledge bases (each id must name one of them)."""

    type: Literal["file_search"]
    knowledge_base_ids: Annotated[list[Annotated[str, Field(min_length=1, max_length=64)]],
                                  Field(max_length=20)] = Field(default_factory=list)
    top_k: Annotated[int, Field(ge=1, le=50)] = 5
    # Minimum cosine similarity of a passage to the query (0..1); null: none.
    threshold: Annotated[float, Field(ge=0, le=1)] | None = None


class CodeInterpreterTool(StrictInput):
    type: Literal["code_interpreter"]


class WebSearchTool(StrictInput):
    type: Literal["web_search"]


def _json_schema_object(value: dict[str, Any]) -> dict[str, Any]:
    if value.get("type", "object") != "object":
        raise PydanticCustomError("schema_not_object", "function parameters must be a JSON schema of type 'object'")
    return value


class FunctionTool(StrictInput):
    """A function the model may call; the client (or a later webhook) executes it."""

    type: Literal["function"]
    name: Annotated[str, StringConstraints(pattern=r"^[a-zA-Z0-9_-]{1,64}$")]
    description: Annotated[str, Field(max_length=1024)] = ""
    parameters: Annotated[dict[str, Any], AfterValidator(_json_schema_object)] = Field(
        default_factory=lambda: {"type": "object", "properties": {}})


class AssistantTool(StrictInput):
    """Another of the owner's assistants, used as a tool ("call") or taking over the turn ("handoff")."""

    type: Literal["assistant"]
    assistant_id: Annotated[str, Field(min_length=1, max_length=64)]
    mode: Literal["handoff", "call"] = "call"


Tool = Annotated[
    FileSearchTool | CodeInterpreterTool | WebSearchTool | FunctionTool | AssistantTool,
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


class AssistantsPublic(Page[AssistantPublic]):
    pass


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
