"""Settings, validated once at start-up. Nothing else in the package reads the environment.

Environment variables use a double underscore for nesting (``AUTH__ACCESS_TOKEN_MINUTES=15``);
a few well-known names are accepted as they are (``DATABASE_URL``, ``REDIS_URL``, ``SECRET_KEY``,
``OPENAI_API_KEY``, ``OPENAI_BASE_URL``).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AliasChoices, BaseModel, BeforeValidator, Field, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEV_SECRET = "dev-insecure-secret-change-me"


class AuthSettings(BaseModel):
    access_token_minutes: int = Field(15, ge=1, le=24 * 60)
    refresh_token_days: int = Field(30, ge=1, le=365)
    jwt_algorithm: Literal["HS256", "HS384", "HS512"] = "HS256"
    password_min_length: int = Field(8, ge=6, le=128)
    # argon2id cost; lowered only by the test suite to keep it fast.
    argon2_time_cost: int = Field(3, ge=1)
    argon2_memory_cost: int = Field(65536, ge=1024)
    login_attempts_per_account: int = Field(10, ge=1)
    login_attempts_per_address: int = Field(30, ge=1)
    login_window_seconds: int = Field(300, ge=1)
    # Only when running behind a proxy you control: take the client address from X-Forwarded-For.
    trust_forwarded_for: bool = False
    # One-time links an administrator passes on: how long they stay valid.
    invite_link_hours: int = Field(7 * 24, ge=1, le=90 * 24)
    reset_link_hours: int = Field(24, ge=1, le=30 * 24)


class LimitSettings(BaseModel):
    max_body_bytes: int = Field(1_000_000, ge=1024)
    default_max_messages: int = Field(50, ge=2)
    default_history_window: int = Field(20, ge=1)


class CompatibleEndpoint(BaseModel):
    """An OpenAI-compatible server declared in the environment (Ollama, vLLM, llama.cpp, LM Studio)."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    base_url: str
    api_key: str | None = None
    # Model names, or declarations of what a model can do, since servers don't say:
    # {"name": "llama3.1", "tools": true, "vision": false, "context_length": 131072}.
    models: list[str | dict[str, Any]] = []


class LLMSettings(BaseModel):
    default_model: str = "local/smollm2-135m-instruct"
    # Extra GGUF files for the embedded runtime: {"name": "/path/to/model.gguf"}.
    local_models: dict[str, str] = {}
    local_enabled: bool = True
    local_context_length: int = Field(4096, ge=256)
    local_max_concurrent: int = Field(1, ge=1, le=16)
    local_threads: int | None = None
    compatible_endpoints: list[CompatibleEndpoint] = []
    generate_titles: bool = True
    request_timeout_seconds: float = Field(600.0, gt=0)


class ChatSettings(BaseModel):
    # A turn whose last listener left is stopped after this grace period (a client may reconnect).
    # Listeners signal once a second (chat/listen.py), so anything under 3 s would stop live answers.
    disconnect_grace_seconds: float = Field(15.0, ge=3.0)
    heartbeat_seconds: float = Field(15.0, gt=0)
    # How long the events of a finished turn stay available for resuming clients.
    replay_retention_seconds: float = Field(120.0, ge=0)
    # How often an open WebSocket re-checks that its user and session are still valid.
    ws_auth_check_seconds: float = Field(5.0, gt=0)
    ws_auth_timeout_seconds: float = Field(10.0, gt=0)
    # Mark answers left "streaming" by a crash as interrupted at start-up. With several workers,
    # `agentcreator serve` does it once before they start and turns it off in the workers.
    recover_on_startup: bool = True
    # Relay pacing under load (like vLLM's stream interval): while more than `relay_pace_above_turns`
    # answers stream in this process, a turn relays at most every `relay_pace_ms` milliseconds (up to
    # twice that at twice as many turns), with everything that arrived meanwhile in one delta. The
    # first token always goes out at once; the tokens per second are the model's. Many streams then
    # cost a fraction of the CPU (one read, one publish, one write per interval instead of per
    # token), which keeps turn starts fast.
    # docs/performance.md. 0 turns: always pace; 0 ms: never.
    relay_pace_above_turns: int = Field(32, ge=0)
    relay_pace_ms: float = Field(40.0, ge=0, le=250)
    # Send the model request while the turn is saved, when no budget can refuse the call (no limit
    # on any budget it counts against) and the worker is not under load (at most
    # `relay_pace_above_turns` turns running): the save no longer adds to the time to first token.
    # With a limit, or under load, the turn is saved (and reserved) first. chat/early_call.py.
    early_model_call: bool = True
    # A run's model rounds: the last one is sent with tool_choice "none", so the run ends with an answer.
    max_rounds: int = Field(10, ge=1, le=25)
    # What a tool's result may hold for the model; longer results are cut with a note.
    tool_output_max_chars: int = Field(20_000, ge=1_000, le=1_000_000)


class BillingSettings(BaseModel):
    """Initial platform budget defaults (micro-dollars and tokens; None = unlimited). Admins change
    them through the API; what they save wins over these."""

    user_daily_micros: int | None = Field(None, ge=0)
    user_monthly_micros: int | None = Field(None, ge=0)
    user_daily_tokens: int | None = Field(None, ge=0)
    user_monthly_tokens: int | None = Field(None, ge=0)
    # The continuation summary: its reply budget, and the extract used when the model cannot write one.
    summary_max_output_tokens: int = Field(400, ge=32, le=4000)
    summary_fallback_chars: int = Field(1500, ge=100, le=20_000)


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


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    environment: Literal["development", "test", "production"] = Field(
        "development", validation_alias=AliasChoices("AGENTCREATOR_ENV", "ENVIRONMENT")
    )
    data_dir: Path = Field(Path("data"), validation_alias=AliasChoices("DATA_DIR", "data_dir"))
    database_url: str | None = Field(None, validation_alias=AliasChoices("DATABASE_URL", "database_url"))
    redis_url: str | None = Field(None, validation_alias=AliasChoices("REDIS_URL", "redis_url"))
    # Connections per worker. Every live stream's listener holds one while it waits for events (a
    # blocking XREAD of up to a second), so this bounds the streams a worker can serve; a request that
    # finds the pool busy waits for a connection instead of failing.
    redis_max_connections: int = Field(1000, ge=10, validation_alias=AliasChoices(
        "REDIS_MAX_CONNECTIONS", "redis_max_connections"))
    secret_key: str = Field(DEV_SECRET, validation_alias=AliasChoices("SECRET_KEY", "secret_key"))
    web_dir: Path | None = Field(None, validation_alias=AliasChoices("WEB_DIR", "web_dir"))
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "info"
    openai_api_key: str | None = Field(None, validation_alias=AliasChoices("OPENAI_API_KEY", "openai_api_key"))
    openai_base_url: str | None = Field(None, validation_alias=AliasChoices("OPENAI_BASE_URL", "openai_base_url"))
    auth: AuthSettings = AuthSettings()
    llm: LLMSettings = LLMSettings()
    chat: ChatSettings = ChatSettings()
    limits: LimitSettings = LimitSettings()
    billing: BillingSettings = BillingSettings()
    outbound: OutboundSettings = OutboundSettings()
    web_search: WebSearchSettings = WebSearchSettings()
    sandbox: SandboxSettings = SandboxSettings()

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.environment == "production" and (self.secret_key == DEV_SECRET or len(self.secret_key) < 32):
            raise ValueError("SECRET_KEY must be set to a random string of at least 32 characters in production")
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'agentcreator.db').resolve()}"

    @property
    def sandbox_root(self) -> Path:
        return self.sandbox.root_dir or self.data_dir / "sandbox"


@lru_cache
def get_settings() -> Settings:
    return Settings()
