"""Settings, validated once at start-up. Nothing else in the package reads the environment.

Environment variables use a double underscore for nesting (``AUTH__ACCESS_TOKEN_MINUTES=15``);
a few well-known names are accepted as they are (``DATABASE_URL``, ``REDIS_URL``, ``SECRET_KEY``,
``OPENAI_API_KEY``, ``OPENAI_BASE_URL``).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AliasChoices, BaseModel, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from agentcreator.core import secret_key as secret_keys
from agentcreator.core.tool_settings import (
    HostedToolSettings,
    McpSettings,
    OutboundSettings,
    SandboxSettings,
    WebSearchSettings,
)


class AuthSettings(BaseModel):
    access_token_minutes: int = Field(15, ge=1, le=24 * 60)
    refresh_token_days: int = Field(30, ge=1, le=365)
    jwt_algorithm: Literal["HS256", "HS384", "HS512"] = "HS256"
    password_min_length: int = Field(10, ge=10, le=128)
    # zxcvbn's score (0-4) a new password needs: 3 refuses common passwords and their variants
    # ("Password123!"), keyboard walks and dictionary words, and accepts a few unrelated words.
    password_min_score: int = Field(3, ge=0, le=4)
    # argon2id cost; lowered only by the test suite to keep it fast.
    argon2_time_cost: int = Field(3, ge=1)
    argon2_memory_cost: int = Field(65536, ge=1024)
    # Sign-in throttling (docs/security.md): attempts on one account from one address, and attempts
    # from one address on any account, each get this many free tries, then an exponential backoff
    # (base, doubling, capped); a successful sign-in clears the account+address count and takes its
    # try back from the address. No per-account lock: a stranger elsewhere cannot lock the owner out.
    login_free_attempts_per_account_and_address: int = Field(5, ge=1)
    login_free_attempts_per_address: int = Field(20, ge=1)
    login_backoff_base_seconds: float = Field(1.0, gt=0)
    login_backoff_max_seconds: float = Field(900.0, gt=0)
    login_attempts_memory_seconds: int = Field(3600, ge=60)
    # Password changes (signed in): tries per user per window.
    login_attempts_per_account: int = Field(10, ge=1)
    login_window_seconds: int = Field(300, ge=1)
    # Registrations from one client address per window.
    registrations_per_address: int = Field(10, ge=1)
    registration_window_seconds: int = Field(3600, ge=1)
    # Only when running behind a proxy you control: take the client address from X-Forwarded-For.
    trust_forwarded_for: bool = False
    # One-time links an administrator passes on: how long they stay valid.
    invite_link_hours: int = Field(7 * 24, ge=1, le=90 * 24)
    reset_link_hours: int = Field(24, ge=1, le=30 * 24)


class LimitSettings(BaseModel):
    # Request bodies and WebSocket frames alike.
    max_body_bytes: int = Field(1_000_000, ge=1024)
    # How deep arrays and objects may nest in a WebSocket frame (checked before it is parsed).
    max_json_depth: int = Field(32, ge=4, le=500)
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
    # How often a process checks whether another one changed the providers (several workers); 0: never.
    providers_check_seconds: float = Field(5.0, ge=0)


class ChatSettings(BaseModel):
    # A turn whose last listener left is stopped after this grace period (a client may reconnect).
    # Listeners signal once a second (chat/listen.py), so anything under 3 s would stop live answers.
    disconnect_grace_seconds: float = Field(15.0, ge=3.0)
    heartbeat_seconds: float = Field(15.0, gt=0)
    # How long the events of a finished turn stay available for resuming clients.
    replay_retention_seconds: float = Field(120.0, ge=0)
    # How often the open WebSockets are checked (all together, one query): a revoked session's socket
    # closes within this (plus the query). api/ws_auth.py.
    ws_auth_check_seconds: float = Field(0.5, gt=0)
    ws_auth_timeout_seconds: float = Field(10.0, gt=0)
    # The history messages as sent to the model with their token counts (chat/model_request.PromptCache),
    # least recently used out first past either bound.
    prompt_cache_bytes: int = Field(64 * 1024 * 1024, ge=1024 * 1024)
    prompt_cache_entries: int = Field(20_000, ge=100)
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
    # Crash safety (docs/operations.md). Each process holds a lease in the database, renewed every
    # `lease_renew_seconds`; a turn whose process's lease is `lease_seconds` old is finished as
    # interrupted by any other process's sweep (every `sweep_seconds`, jittered by +-50 %).
    lease_seconds: float = Field(10.0, ge=0.5)
    lease_renew_seconds: float = Field(2.0, gt=0)
    sweep_seconds: float = Field(5.0, gt=0)
    # A streaming answer's text is saved at most every `checkpoint_seconds` and every
    # `checkpoint_tokens` deltas, whichever comes later (an answer done sooner costs no extra write).
    checkpoint_seconds: float = Field(1.0, ge=0.05)
    checkpoint_tokens: int = Field(16, ge=1)
    # At most this many checkpoints per second per process: under load each answer is saved less often
    # (at 200 streams every 4 s), so that checkpoints never crowd out turn starts (SQLite: one writer).
    checkpoints_per_second: float = Field(50.0, gt=0)
    # On SIGTERM: new turns get 503, running ones have this long to finish, then they are saved as
    # interrupted and the process exits (a rolling restart).
    drain_seconds: float = Field(30.0, ge=0)


class FairUseSettings(BaseModel):
    """Per-user limits on a shared server (services/fair_use.py); administrators change them through
    the API, and what they save wins over these."""

    max_concurrent_turns: int = Field(3, ge=1, le=1000)
    turns_per_minute: int = Field(20, ge=1, le=100_000)
    # Uploads one user may start per minute (the Files page, attachments, knowledge documents).
    uploads_per_minute: int = Field(30, ge=1, le=100_000)
    # Conversation exports one user may start per minute (a ZIP reads every attached file back).
    exports_per_minute: int = Field(20, ge=1, le=100_000)
    # With Redis: a running turn stops counting after this long even if its worker died mid-turn.
    slot_lease_seconds: float = Field(900.0, ge=60)


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


class FileSettings(BaseModel):
    """Uploads (files/). Sizes in bytes; the quota counts each distinct stored file once."""

    max_file_bytes: int = Field(25 * 1024 * 1024, ge=1024)
    user_quota_bytes: int = Field(1024 * 1024 * 1024, ge=1024)
    # Images: the copy sent to models is scaled to this long side; thumbnails to the smaller one.
    model_image_long_side: int = Field(2048, ge=64, le=8192)
    thumbnail_long_side: int = Field(256, ge=32, le=1024)
    # Decompression-bomb guard: images with more pixels are refused before they are decoded.
    max_image_pixels: int = Field(40_000_000, ge=10_000)
    # Text extracted from a document at upload is kept up to this many characters.
    max_text_chars: int = Field(2_000_000, ge=1000)
    # Office files are ZIP archives: refuse those that would inflate past this many bytes.
    max_archive_inflated_bytes: int = Field(256 * 1024 * 1024, ge=1024 * 1024)
    max_attachments_per_message: int = Field(10, ge=1, le=50)
    # Uploads read and processed at once per worker; others wait their turn (unread: TCP holds their
    # senders back; none is refused), so a burst of uploads does not crowd the event loop that relays the
    # chat streams. An upload waiting for its client hands its turn on (files/admission.py).
    max_concurrent_uploads: int = Field(4, ge=1, le=64)
    # Tokens of a document's text given to the model per attachment before it is cut (with a note).
    document_token_budget: int = Field(8000, ge=100)
    # Remove files without a row and rows without a file at start-up (agentcreator files sweep).
    sweep_on_startup: bool = True
    # Stored files younger than this are never swept (an upload writes the file just before its row).
    sweep_grace_seconds: float = Field(3600.0, ge=0)


LOCAL_EMBEDDING_MODEL = "local/all-minilm-l6-v2-int8"


def _embedding_model(value: str) -> str:
    provider, _, model = value.partition("/")
    if value != LOCAL_EMBEDDING_MODEL and (provider != "openai" or not model):
        raise ValueError(f"the embedding model is {LOCAL_EMBEDDING_MODEL} or openai/<model> (OPENAI_API_KEY, "
                         "OPENAI_BASE_URL: OpenAI or any server with its embeddings API)")
    return value


class KnowledgeSettings(BaseModel):
    """Knowledge bases (rag/): ingestion jobs, chunking, embedding and retrieval."""

    # The embedder: the embedded MiniLM model, or openai/<model> (priced). Changing it makes every base
    # built with another model "stale" (keyword search only) until it is re-embedded.
    embedding_model: Annotated[str, AfterValidator(_embedding_model)] = LOCAL_EMBEDDING_MODEL
    # openai/<model>: ask for vectors this long (text-embedding-3 models); needed for unknown models.
    embedding_dimensions: int | None = Field(None, ge=8, le=8192)

    # Chunks are counted in the embedder's tokens; overlap is a fraction of a chunk.
    chunk_tokens: int = Field(200, ge=16, le=256)
    chunk_overlap: float = Field(0.15, ge=0, lt=0.5)
    embed_batch_size: int = Field(32, ge=1, le=512)
    # onnxruntime intra-op threads of the embedded model.
    embed_threads: int = Field(1, ge=1, le=64)
    # In-process ingestion workers (each runs one job at a time); 0: this process runs none.
    workers: int = Field(1, ge=0, le=16)
    # A claimed job's lease, renewed every third of it while the job runs; a crashed worker's job is
    # taken over when its lease runs out.
    job_lease_seconds: float = Field(30.0, ge=0.5)
    # How often an idle worker looks for work without a wake-up (expired leases, other processes).
    job_poll_seconds: float = Field(5.0, ge=0.05)
    job_max_attempts: int = Field(3, ge=1, le=20)
    max_pages: int = Field(5000, ge=1)
    # Candidates taken from each ranking before fusion; passages returned by default.
    candidates: int = Field(50, ge=5, le=1000)
    default_top_k: int = Field(5, ge=1, le=50)
    # Vectors kept in memory per process (all bases; ~1.5 KB each); least recently searched bases go first.
    dense_cache_max_vectors: int = Field(2_000_000, ge=1000)


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
    # None: generated on first start and kept in DATA_DIR/secret_key (core/secret_key.py).
    secret_key: str | None = Field(None, validation_alias=AliasChoices("SECRET_KEY", "secret_key"))
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
    hosted_tools: HostedToolSettings = HostedToolSettings()
    sandbox: SandboxSettings = SandboxSettings()
    mcp: McpSettings = McpSettings()
    files: FileSettings = FileSettings()
    knowledge: KnowledgeSettings = KnowledgeSettings()
    fair_use: FairUseSettings = FairUseSettings()

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.secret_key is not None:
            problem = secret_keys.key_problem(self.secret_key)
            if problem is not None:
                raise ValueError(problem)
        return self

    def resolve_secret_key(self) -> str:
        """``SECRET_KEY``, or the key kept in (and on first start generated into) ``DATA_DIR``."""
        return secret_keys.resolve(self.secret_key, self.data_dir)

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
