"""``POST /v1/embeddings`` of the OpenAI double: the API's request and response shapes, with
deterministic vectors that carry meaning (so retrieval over them can be tested).

A text's vector is a hashed bag of its lower-cased words (each word adds ±1 to a coordinate chosen by
a stable hash), L2-normalised like OpenAI's. Texts that share words are similar; the same text always
gets the same vector, in any process. ``dimensions`` shortens the vector (text-embedding-3 models);
``encoding_format: base64`` returns little-endian float32 bytes, as the API does. ``usage.prompt_tokens``
counts words and punctuation (the double has no tokenizer; the shape is what matters).
"""

from __future__ import annotations

import base64
import hashlib
import re
import struct
from typing import Any

NATIVE_DIMENSIONS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}
_TOKEN = re.compile(r"\w+|[^\w\s]")


class EmbeddingsRequestError(Exception):
    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code


def vector(text: str, dimensions: int) -> list[float]:
    values = [0.0] * dimensions
    for word in re.findall(r"\w+", text.lower()):
        digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
        index = int.from_bytes(digest[:4], "little") % dimensions
        values[index] += 1.0 if digest[4] & 1 else -1.0
    norm = sum(v * v for v in values) ** 0.5 or 1.0
    return [v / norm for v in values]


def embeddings(body: dict[str, Any], model_ids: list[str]) -> dict[str, Any]:
    model = body.get("model")
    if model not in model_ids or model not in NATIVE_DIMENSIONS:
        raise EmbeddingsRequestError(404, f"The model `{model}` does not exist or you do not have access to it.",
                                     code="model_not_found")
    texts = body.get("input")
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) and t for t in texts):
        raise EmbeddingsRequestError(400, "'input' must be a non-empty string or array of non-empty strings.",
                                     param="input", code="invalid_value")
    dimensions = body.get("dimensions") or NATIVE_DIMENSIONS[model]
    if not isinstance(dimensions, int) or not 1 <= dimensions <= NATIVE_DIMENSIONS[model] \
            or (body.get("dimensions") is not None and model == "text-embedding-ada-002"):
        raise EmbeddingsRequestError(400, f"This model does not support dimensions={dimensions}.",
                                     param="dimensions", code="invalid_value")
    encoding = body.get("encoding_format") or "float"
    data = []
    for index, text in enumerate(texts):
        values = vector(text, dimensions)
        embedding: Any = values if encoding == "float" else \
            base64.b64encode(struct.pack(f"<{dimensions}f", *values)).decode()
        data.append({"object": "embedding", "index": index, "embedding": embedding})
    tokens = sum(len(_TOKEN.findall(t)) for t in texts)
    return {"object": "list", "data": data, "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
