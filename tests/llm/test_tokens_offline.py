"""Exact o200k_base token counts without the network, from the file the bpe-openai package ships."""

from __future__ import annotations

import pytest

from agentcreator.llm.tokens import OpenAITokenCounter, _packaged_o200k
from agentcreator.llm.types import ChatMessage


def test_the_packaged_o200k_file_gives_tiktokens_own_ids(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))  # nothing cached: only the packaged file can help
    encoding = _packaged_o200k()
    assert encoding is not None
    # the ids OpenAI's o200k_base gives this sentence (gpt-4o, gpt-4.1, gpt-5)
    assert encoding.encode("Hello, world! The capital of France is Paris.") == [
        13225, 11, 2375, 0, 623, 9029, 328, 10128, 382, 12650, 13]
    assert encoding.decode(encoding.encode("naïve café 東京 🚀")) == "naïve café 東京 🚀"
    counter = OpenAITokenCounter()
    assert counter.exact
    # 7 tokens of text + 4 per message + 3 to prime the reply
    assert counter.count([ChatMessage.user("What is the capital of France?")]) == 7 + 4 + 3
