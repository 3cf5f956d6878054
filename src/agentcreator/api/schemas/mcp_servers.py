"""MCP server schemas: McpServerCreate, McpServerUpdate, McpServerPublic (admins), the connection test,
and McpServerCatalog (every user: enabled servers and their tools, never secrets, URLs or commands)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from agentcreator.api.schemas.common import Page, StrictInput

ServerName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")]
Description = Annotated[str, Field(max_length=2000)]
# RFC 9110 token characters; values without CR, LF or NUL (no header injection).
HeaderName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$")]
HeaderValue = Annotated[str, StringConstraints(max_length=8000, pattern=r"^[^\r\n\x00]*$")]
EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")]
EnvValue = Annotated[str, StringConstraints(max_length=8000, pattern=r"^[^\x00]*$")]
Command = Annotated[str, StringConstraints(min_length=1, max_length=1000, pattern=r"^[^\x00-\x1f\x7f]+$")]
Arg = Annotated[str, StringConstraints(max_length=4000, pattern=r"^[^\x00]*$")]
CallTimeout = Annotated[float, Field(gt=0, le=3600)]
ConnectTimeout = Annotated[float, Field(gt=0, le=300)]

# Headers the transport sets itself: an admin's value would break the protocol or the framing.
RESERVED_HEADERS = frozenset({
    "host", "content-length", "content-type", "accept", "connection", "keep-alive", "transfer-encoding",
    "te", "trailer", "upgrade", "proxy-connection", "mcp-session-id", "mcp-protocol-version", "last-event-id",
})


def _check_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PydanticCustomError("url_scheme", "the URL must be http:// or https:// with a host")
    if parts.username is not None or parts.password is not None:
        raise PydanticCustomError("url_credentials", "no credentials in the URL: send them as a header")
    if any(ch in value for ch in "\r\n\t\x00 "):
        raise PydanticCustomError("url_characters", "the URL contains whitespace or control characters")
    return value


def _check_headers(value: dict[str, str]) -> dict[str, str]:
    reserved = sorted(name for name in value if name.lower() in RESERVED_HEADERS)
    if reserved:
        raise PydanticCustomError("reserved_header", "these headers are set by the transport: {names}",
                                  {"names": ", ".join(reserved)})
    lowered = [name.lower() for name in value]
    if len(set(lowered)) != len(lowered):
        raise PydanticCustomError("duplicate_header", "a header is given twice (names are case-insensitive)")
    return value


Url = Annotated[str, StringConstraints(max_length=2000), AfterValidator(_check_url)]
Headers = Annotated[dict[HeaderName, HeaderValue], Field(max_length=50), AfterValidator(_check_headers)]
Env = Annotated[dict[EnvName, EnvValue], Field(max_length=100)]
Args = Annotated[list[Arg], Field(max_length=64)]


class McpServerCreate(StrictInput):
    name: ServerName = Field(description="Short unique name; tools are named mcp_<name>__<tool>")
    description: Description = ""
    transport: Literal["streamable_http", "stdio"]
    url: Url | None = Field(None, description="streamable_http: the server's MCP endpoint")
    headers: Headers = Field(default_factory=dict, description="streamable_http: sent with every request; "
                             "stored encrypted, never returned (only their names are)")
    command: Command | None = Field(None, description="stdio: the program this server runs")
    args: Args = Field(default_factory=list)
    env: Env = Field(default_factory=dict, description="stdio: extra environment variables; stored encrypted, "
                     "never returned (only their names are)")
    enabled: bool = True
    call_timeout_seconds: CallTimeout | None = Field(None, description="null: the platform default")
    connect_timeout_seconds: ConnectTimeout | None = Field(None, description="null: the platform default")

    @model_validator(mode="after")
    def _fits_transport(self) -> McpServerCreate:
        if self.transport == "streamable_http":
            if not self.url:
                raise PydanticCustomError("url_required", "a streamable_http server needs a url")
            if self.command or self.args or self.env:
                raise PydanticCustomError("stdio_fields", "command, args and env are for stdio servers")
        else:
            if not self.command:
                raise PydanticCustomError("command_required", "a stdio server needs a command")
            if self.url or self.headers:
                raise PydanticCustomError("http_fields", "url and headers are for streamable_http servers")
        return self


class McpServerUpdate(StrictInput):
    """Partial update. ``headers``, ``args`` and ``env`` are replaced whole ({} or [] clears them). The
    name and the transport do not change: assistants refer to the server by them."""

    description: Description | None = None
    url: Url | None = None
    headers: Headers | None = None
    command: Command | None = None
    args: Args | None = None
    env: Env | None = None
    enabled: bool | None = None
    call_timeout_seconds: CallTimeout | None = None
    connect_timeout_seconds: ConnectTimeout | None = None

    @model_validator(mode="after")
    def _no_explicit_null(self) -> McpServerUpdate:
        nulls = sorted(f for f in self.model_fields_set if getattr(self, f) is None)
        if nulls:
            raise PydanticCustomError("null_not_allowed", "fields may be omitted but not null: {fields}",
                                      {"fields": ", ".join(nulls)})
        return self


class McpServerPublic(BaseModel):
    """What admins see: header and environment variable names, never their values."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    description: str
    transport: str
    url: str | None
    header_names: list[str]
    command: str | None
    args: list[str]
    env_names: list[str]
    enabled: bool
    call_timeout_seconds: float
    connect_timeout_seconds: float
    created_at: datetime
    updated_at: datetime


class McpServersPublic(Page[McpServerPublic]):
    pass


class McpToolPublic(BaseModel):
    name: str = Field(description="The tool's name on its server (what an assistant's tools list holds)")
    function_name: str = Field(description="The name the model sees: mcp_<server>__<tool>")
    title: str | None = None
    description: str
    input_schema: dict[str, Any]


class McpConnectionTest(BaseModel):
    ok: bool
    tools: list[McpToolPublic] = Field(default_factory=list)
    error: dict[str, str] | None = None


class McpServerCatalogEntry(BaseModel):
    id: str
    name: str
    description: str
    tools: list[McpToolPublic]
    error: dict[str, str] | None = Field(None, description="Why the tools could not be listed right now")


class McpServerCatalog(Page[McpServerCatalogEntry]):
    pass
