"""The OpenAI embedder against the OpenAI double's /v1/embeddings (real HTTP): vectors in the caller's
order, unit length, the server's token count; errors are typed provider errors."""

from __future__ import annotations

import numpy as np
import pytest

from agentcreator.llm.errors import ProviderError, ProviderUnavailable
from agentcreator.rag.embeddings_openai import OpenAIEmbedder
from tests.llm import _double_embeddings
from tests.llm.openai_double import HttpError, OpenAIDouble


def _embedder(double: OpenAIDouble, model: str = "text-embedding-3-small", **kwargs: object) -> OpenAIEmbedder:
    return OpenAIEmbedder(model, api_key="sk-test", base_url=double.base_url, max_retries=0, **kwargs)  # type: ignore[arg-type]


async def test_vectors_come_back_in_order_normalised_with_the_servers_usage(openai_double: OpenAIDouble) -> None:
    embedder = _embedder(openai_double, dimensions=32, batch_size=2)
    texts = ["Barn owls hunt voles.", "Sourdough needs a starter.", "Tides follow the Moon."]
    done: list[int] = []
    batch = await embedder.embed(texts, progress=done.append)
    await embedder.aclose()
    assert batch.vectors.shape == (3, 32) and batch.vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(batch.vectors, axis=1), 1.0, atol=1e-5)
    for text, row in zip(texts, batch.vectors, strict=True):
        assert np.allclose(row, _double_embeddings.vector(text, 32), atol=1e-6)
    assert batch.tokens == 5 + 5 + 5 and not batch.estimated  # the double's count: words and punctuation
    assert done == [2, 3]
    requests = [r.body for r in openai_double.requests if r.path == "/v1/embeddings"]
    assert [len(b["input"]) for b in requests] == [2, 1]
    assert all(b["dimensions"] == 32 and b["encoding_format"] == "float" for b in requests)
    assert embedder.model_id == "openai/text-embedding-3-small" and embedder.local is False


async def test_errors_are_typed_provider_errors(openai_double: OpenAIDouble) -> None:
    unknown = OpenAIEmbedder("text-embedding-9", api_key="sk-test", base_url=openai_double.base_url,
                             dimensions=16, max_retries=0)
    with pytest.raises(ProviderError, match="does not exist"):
        await unknown.embed(["hello"])
    await unknown.aclose()
    embedder = _embedder(openai_double)
    openai_double.embedding_errors.append(HttpError(503, "overloaded", type="server_error"))
    with pytest.raises(ProviderUnavailable, match="overloaded"):
        await embedder.embed(["hello"])
    assert (await embedder.embed(["hello"])).vectors.shape == (1, 1536)  # the next request succeeds
    await embedder.aclose()
    with pytest.raises(ValueError, match="KNOWLEDGE__EMBEDDING_DIMENSIONS"):
        OpenAIEmbedder("my-embedder", api_key=None, base_url=openai_double.base_url)
