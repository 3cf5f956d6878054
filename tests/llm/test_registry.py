"""ModelRegistry: building providers from configs, resolving "provider/model", aggregated listing."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentcreator.llm.errors import ModelNotFound, ProviderUnavailable
from agentcreator.llm.local_llamacpp import SMOLLM2_NAME, LocalLlamaProvider, find_default_gguf
from agentcreator.llm.openai_chat import OpenAICompatibleProvider
from agentcreator.llm.openai_responses import OpenAIResponsesProvider
from agentcreator.llm.registry import ModelRegistry, ProviderConfig, configs_from_settings
from agentcreator.llm.testing import ScriptedProvider
from agentcreator.llm.types import ModelSpec
from tests.llm.openai_double import OpenAIDouble


def compatible(name: str, base_url: str, *models: str, **kwargs: object) -> ProviderConfig:
    return ProviderConfig(name=name, kind="openai_compatible", base_url=base_url,
                          models=[ModelSpec(name=model) for model in models], max_retries=0, timeout=5, **kwargs)


async def test_builds_each_kind(openai_double: OpenAIDouble, tmp_path: Path) -> None:
    registry = ModelRegistry([
        ProviderConfig(name="openai", kind="openai", api_key="sk-x", base_url=openai_double.base_url),
        compatible("ollama", openai_double.base_url),
        ProviderConfig(name="local", kind="local", local_models={"tiny": str(tmp_path / "tiny.gguf")}),
        ProviderConfig(name="off", kind="openai_compatible", base_url="http://127.0.0.1:9/v1", enabled=False),
    ])
    try:
        providers = registry.providers
        assert set(providers) == {"openai", "ollama", "local"}  # disabled ones are not built
        assert isinstance(providers["openai"], OpenAIResponsesProvider)
        assert isinstance(providers["ollama"], OpenAICompatibleProvider)
        assert isinstance(providers["local"], LocalLlamaProvider)
    finally:
        await registry.aclose()


async def test_resolve(openai_double: OpenAIDouble) -> None:
    registry = ModelRegistry([
        ProviderConfig(name="openai", kind="openai", api_key="sk-x", base_url=openai_double.base_url),
        compatible("ollama", openai_double.base_url, "llama3.2", discover=False)])
    try:
        provider, model, info = await registry.resolve("openai/gpt-4o-mini")
        assert provider is registry.get("openai") and model == "gpt-4o-mini" and info.id == "openai/gpt-4o-mini"
        provider, model, info = await registry.resolve("ollama/llama3.2")
        assert provider.name == "ollama" and info.name == "llama3.2"
        with pytest.raises(ModelNotFound, match="Model 'nope/x' is not available: provider 'nope' is not configured"):
            await registry.resolve("nope/x")
        with pytest.raises(ModelNotFound, match="provider 'openai' has no model 'gpt-2'"):
            await registry.resolve("openai/gpt-2")
        with pytest.raises(ModelNotFound, match="provider/model"):
            await registry.resolve("gpt-4o")
    finally:
        await registry.aclose()


async def test_list_models_tolerates_a_provider_that_is_down(openai_double: OpenAIDouble) -> None:
    openai_double.model_ids = ["mistral-small"]
    registry = ModelRegistry([compatible("up", openai_double.base_url),
                              compatible("down", "http://127.0.0.1:9/v1")])
    try:
        listing = await registry.list_models()
    finally:
        await registry.aclose()
    assert [info.id for info in listing.models] == ["up/mistral-small"]
    assert set(listing.errors) == {"down"}
    assert listing.errors["down"].code == ProviderUnavailable.code and listing.errors["down"].retryable


async def test_replace_keeps_unchanged_providers_and_closes_the_others(openai_double: OpenAIDouble) -> None:
    first = [compatible("a", openai_double.base_url, "m1"), compatible("b", openai_double.base_url, "m2")]
    registry = ModelRegistry(first)
    kept, replaced = registry.get("a"), registry.get("b")
    await registry.replace([first[0], compatible("b", openai_double.base_url, "m3"),
                            compatible("c", openai_double.base_url)])
    try:
        assert registry.get("a") is kept
        assert registry.get("b") is not replaced and set(registry.providers) == {"a", "b", "c"}
        assert replaced._client.is_closed()  # type: ignore[attr-defined]
        assert not kept._client.is_closed()  # type: ignore[attr-defined]
        await registry.replace([first[0]])
        with pytest.raises(ModelNotFound, match="'b' is not configured"):
            await registry.resolve("b/m3")
    finally:
        await registry.aclose()


async def test_scripted_provider_in_a_registry() -> None:
    scripted = ScriptedProvider(name="scripted")
    registry = ModelRegistry.of(scripted)
    provider, model, info = await registry.resolve("scripted/test-model")
    assert provider is scripted and model == "test-model" and info.tools
    await registry.aclose()
    assert scripted.closed


def test_configs_from_settings(tmp_path: Path) -> None:
    gguf = tmp_path / "m.gguf"
    configs = configs_from_settings(
        openai_api_key="sk-live", openai_base_url=None, local_models={"mine": gguf},
        compatible=[{"name": "ollama", "base_url": "http://localhost:11434/v1",
                     "models": ["llama3.2", {"name": "llava", "vision": True}]}])
    by_name = {config.name: config for config in configs}
    assert set(by_name) == {"local", "openai", "ollama"}
    assert by_name["local"].local_models == {"mine": str(gguf)}
    assert by_name["openai"].api_key == "sk-live" and by_name["openai"].kind == "openai"
    assert [spec.name for spec in by_name["ollama"].models] == ["llama3.2", "llava"]
    assert by_name["ollama"].models[1].vision is True


def test_configs_from_settings_defaults() -> None:
    configs = configs_from_settings()
    default = find_default_gguf()
    if default is None:
        assert configs == []
    else:
        (local,) = configs
        assert local.kind == "local" and local.local_models == {SMOLLM2_NAME: str(default)}
    assert configs_from_settings(local_models={}) == []


def test_provider_names_cannot_contain_a_slash() -> None:
    with pytest.raises(ValueError, match="name"):
        ProviderConfig(name="a/b", kind="openai")
