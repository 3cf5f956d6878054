"""Settings of the tools and their outbound traffic (part of :class:`agentcreator.core.config.Settings`):
the SSRF guard, web search, OpenAI's hosted tools, the code interpreter's sandbox and MCP servers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, model_validator
from pydantic_settings import NoDecode


def _host_list(value: object) -> object:
    """``OUTBOUND__ALLOW_HOSTS`` may be a JSON list or comma-separated: ``localhost:11434,search.lan``."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [item.strip() for item in text.split(",") if item.strip()]
    return value


def _valid_allow_entries(value: list[str]) -> list[str]:
    from agentcreator.core.outbound.addresses import parse_allow_entry

    for entry in value:
        parse_allow_entry(entry)  # raises ValueError with the bad entry
    return value


class OutboundSettings(BaseModel):
    """The SSRF guard of every outbound fetch (core/outbound, docs/tools.md)."""

    # Named internal destinations admitted despite their private address: "host" or "host:port"
    # ("localhost:11434", "searxng.internal", "[::1]:8080"). Matched on the name the URL uses.
    allow_hosts: Annotated[list[str], NoDecode, BeforeValidator(_host_list),
                           AfterValidator(_valid_allow_entries)] = []
    connect_timeout_seconds: float = Field(5.0, gt=0, le=60)
    read_timeout_seconds: float = Field(20.0, gt=0, le=600)
    # The whole exchange: every redirect and the body.
    total_timeout_seconds: float = Field(30.0, gt=0, le=600)
    max_response_bytes: int = Field(5_000_000, ge=1024, le=200_000_000)
    max_redirects: int = Field(5, ge=0, le=5)
    user_agent: str = Field("AgentCreator/0.1", max_length=200)


class WebSearchSettings(BaseModel):
    """The search service behind the ``web_search`` tool (tools/web_search.py). No provider: no tool.
    The provider's own host is admitted by the guard (it is the admin's choice)."""

    provider: Literal["searxng", "brave", "tavily"] | None = None
    # SearXNG: the instance ("http://localhost:8888"); Brave and Tavily: their API (defaults below).
    base_url: str | None = None
    api_key: str | None = None
    max_results: int = Field(5, ge=1, le=20)
    # fetch_page: the readable text handed to the model is cut at this many characters.
    page_max_chars: int = Field(20_000, ge=500, le=200_000)
    timeout_seconds: float = Field(15.0, gt=0, le=120)

    @model_validator(mode="after")
    def _complete(self) -> WebSearchSettings:
        if self.provider == "searxng" and not self.base_url:
            raise ValueError("WEB_SEARCH__BASE_URL is needed for SearXNG (the instance's URL)")
        if self.provider in ("brave", "tavily") and not self.api_key:
            raise ValueError(f"WEB_SEARCH__API_KEY is needed for {self.provider}")
        if self.base_url and not self.base_url.startswith(("http://", "https://")):
            raise ValueError("WEB_SEARCH__BASE_URL must start with http:// or https://")
        return self
class HostedToolSettings(BaseModel):
    """OpenAI's hosted tools (docs/tools.md): which may run on the provider (``HOSTED_TOOLS__ENABLED=
    web_search,file_search,code_interpreter``; none by default, they are paid per call on the admin's
    account) and the provider's vector stores assistants may search (``HOSTED_TOOLS__VECTOR_STORE_IDS``)."""

    enabled: Annotated[list[Literal["web_search", "file_search", "code_interpreter"]], NoDecode,
                       BeforeValidator(_host_list)] = []
    vector_store_ids: Annotated[list[Annotated[str, Field(pattern=r"^vs_[A-Za-z0-9_-]{1,100}$")]], NoDecode,
                                BeforeValidator(_host_list)] = []
    # Sent as the call's max_tool_calls; the round holds this many calls' fees in the budgets first.
    max_calls_per_round: int = Field(8, ge=1, le=100)


class SandboxSettings(BaseModel):
    """The code interpreter's sandboxes (docs/sandbox.md). ``SANDBOX__MEMORY_BYTES=...`` etc."""

    enabled: bool = True
    bwrap_path: str = "bwrap"
    # The interpreter run inside the sandbox (it must live under /usr, which is bound read-only) and
    # the packages built for it by scripts/build-sandbox-env.sh.
    python_path: Path = Path("/usr/bin/python3")
    env_dir: Path = Path(".sandbox-env")
    # Work directories and collected outputs; default: DATA_DIR/sandbox.
    root_dir: Path | None = None
    # Sessions run under uids uid_base .. uid_base + max_sessions - 1, one per live session.
    uid_base: int = Field(61000, ge=1000, le=2**31 - 100_000)
    max_sessions: int = Field(4, ge=1, le=256)
    # Lock files that keep two processes (workers) from taking the same uid.
    lock_dir: Path = Path("/run/agentcreator-sandbox")
    # A call that finds every session busy waits this long for one, then is refused.
    queue_seconds: float = Field(10.0, ge=0)
    idle_seconds: float = Field(20 * 60, gt=0)
    # Per call: wall clock (kills the whole sandbox); per session: the interpreter's CPU seconds.
    timeout_seconds: float = Field(30.0, gt=0)
    start_timeout_seconds: float = Field(10.0, gt=0)
    cpu_seconds: int = Field(300, ge=1)
    memory_bytes: int = Field(1 << 30, ge=64 << 20)  # address space of each process
    max_processes: int = Field(64, ge=8)  # processes and threads of the session's uid
    max_file_bytes: int = Field(100 << 20, ge=1 << 20)
    max_open_files: int = Field(256, ge=32)
    tmp_bytes: int = Field(256 << 20, ge=1 << 20)  # the tmpfs at /tmp
    # The size of each session's /mnt/data (a tmpfs the host mounts when it may; docs/sandbox.md).
    work_bytes: int = Field(512 << 20, ge=16 << 20)
    # CPU priority of sandboxes (nice value): busy sandboxes yield to the server's own work.
    nice: int = Field(19, ge=0, le=19)
    # What the model reads: stdout and stderr are each cut at this many characters (with a note).
    output_chars: int = Field(20_000, ge=1000)
    # Files reported back per call (the rest are listed as skipped).
    max_output_files: int = Field(20, ge=1)


class McpSettings(BaseModel):
    """MCP servers (docs/mcp.md). Servers themselves are registered by admins through the API."""

    # stdio servers are commands this server runs with its own rights: an admin may set them only
    # while this is on, and none runs while it is off.
    stdio_enabled: bool = True
    # A server's tool list is reused for this long before it is asked again.
    tools_cache_seconds: float = Field(60.0, ge=0)
    # An open client session (an HTTP session, or a stdio process) unused this long is closed.
    idle_close_seconds: float = Field(300.0, gt=0)
    # Open client sessions per process; the least recently used idle one closes to make room.
    max_open_sessions: int = Field(32, ge=1, le=1000)
    # Defaults for a new server, and the most an admin may set.
    default_call_timeout_seconds: float = Field(60.0, gt=0)
    max_call_timeout_seconds: float = Field(600.0, gt=0)
    default_connect_timeout_seconds: float = Field(15.0, gt=0)
    # Images a tool returns beyond this (decoded bytes) are dropped with a note to the model.
    max_image_bytes: int = Field(5_000_000, ge=0)
    # Tools taken from one server's list (the rest are ignored, with a warning in the log).
    max_tools_per_server: int = Field(200, ge=1, le=10_000)
