"""Embeddings from OpenAI's API or any OpenAI-compatible server (``POST /v1/embeddings``), priced.

Configured with ``KNOWLEDGE__EMBEDDING_MODEL=openai/text-embedding-3-small`` (the key and base URL are
``OPENAI_API_KEY`` / ``OPENAI_BASE_URL``); ``KNOWLEDGE__EMBEDDING_DIMENSIONS`` asks the API for shorter
vectors (the ``dimensions`` parameter of the text-embedding-3 models). Vectors are L2-normalised here
as well, so a dot product is the cosine whatever the server returns. Usage is the server's
``usage.prompt_tokens`` (counted by us, and flagged estimated, when it sends none). SDK errors become
:class:`~agentcreator.llm.errors.ProviderError` s, which an ingestion job reports as its reason.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import openai

from agentcreator.llm._openai_common import make_client, translate_openai_error
from agentcreator.llm.errors import ProviderError
from agentcreator.llm.tokens import openai_token_counter
from agentcreator.rag.embeddings import Embedder, EmbeddingBatch

# Native vector lengths of OpenAI's embedding models (used when no ``dimensions`` is configured).
NATIVE_DIMENSIONS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}
MAX_INPUTS_PER_REQUEST = 2048  # the API's limit on inputs per request


class OpenAIEmbedder(Embedder):
    local = False

    def __init__(self, model: str, *, provider: str = "openai", api_key: str | None, base_url: str | None,
                 dimensions: int | None = None, batch_size: int = 64, timeout: float = 60.0,
                 max_retries: int = 2) -> None:
        native = NATIVE_DIMENSIONS.get(model)
        if dimensions is None and native is None:
            raise ValueError(f"the embedding model {model!r} has no known vector length: set "
                             "KNOWLEDGE__EMBEDDING_DIMENSIONS")
        self.model = model
        self.provider = provider
        self.model_id = f"{provider}/{model}"
        self.dimensions = dimensions or native or 0
        # Only text-embedding-3 models accept ``dimensions``; ask for it only when it differs from native.
        self._ask_dimensions = dimensions if dimensions is not None and dimensions != native else None
        self.batch_size = min(batch_size, MAX_INPUTS_PER_REQUEST)
        self._client = make_client(api_key=api_key, base_url=base_url, timeout=timeout, max_retries=max_retries)
        self._counter = openai_token_counter()

    def count_tokens(self, text: str) -> int:
        return self._counter.count_text(text)

    async def _request(self, texts: list[str]) -> tuple[np.ndarray, int | None]:
        extra = {"dimensions": self._ask_dimensions} if self._ask_dimensions is not None else {}
        try:
            response = await self._client.embeddings.create(model=self.model, input=texts,
                                                            encoding_format="float", **extra)
        except openai.OpenAIError as exc:
            raise translate_openai_error(exc, self.provider) from exc
        rows = sorted(response.data, key=lambda item: item.index)
        if len(rows) != len(texts) or any(len(item.embedding) != self.dimensions for item in rows):
            raise ProviderError(f"Provider '{self.provider}' returned {len(rows)} embeddings of "
                                f"{len(rows[0].embedding) if rows else 0} dimensions for {len(texts)} texts "
                                f"(expected {self.dimensions} dimensions).", provider=self.provider)
        vectors = np.array([item.embedding for item in rows], dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        usage = response.usage.prompt_tokens if response.usage is not None else None
        return (vectors / np.clip(norms, 1e-12, None)).astype(np.float32), usage

    async def embed(self, texts: Sequence[str], *,
                    progress: Callable[[int], None] | None = None) -> EmbeddingBatch:
        texts = list(texts)
        out: list[np.ndarray] = []
        tokens = 0
        estimated = False
        for start in range(0, len(texts), self.batch_size):
            batch = texts[start:start + self.batch_size]
            vectors, used = await self._request(batch)
            if used is None:
                used, estimated = sum(self.count_tokens(t) for t in batch), True
            out.append(vectors)
            tokens += used
            if progress is not None:
                progress(start + len(batch))
        if not out:
            return EmbeddingBatch(np.zeros((0, self.dimensions), dtype=np.float32), 0)
        return EmbeddingBatch(np.concatenate(out), tokens, estimated)

    async def aclose(self) -> None:
        await self._client.close()
