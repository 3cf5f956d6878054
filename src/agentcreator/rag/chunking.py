"""Token-counted chunks with overlap, character offsets and page numbers.

A document arrives as a list of pages (extracted text; a format without pages is one page). Each page
is split on its own by `semchunk` (a maintained semantic splitter: paragraphs, then sentences, then
words), so a chunk never spans two pages and its page number is exact. Offsets are characters into
the page's text (``char_start`` inclusive, ``char_end`` exclusive): a citation opens the page at
``text[char_start:char_end]``.

Tokens are counted with the embedder's own tokenizer, so a chunk fits the model's window (256 tokens
for MiniLM) and is embedded whole. Overlap is a fraction of the chunk size, carried by semchunk.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import semchunk

DEFAULT_CHUNK_TOKENS = 200
DEFAULT_OVERLAP = 0.15


@dataclass(frozen=True)
class Chunk:
    ordinal: int
    text: str
    page: int  # 1-based
    char_start: int
    char_end: int


def chunk_pages(pages: Sequence[str], count_tokens: Callable[[str], int], *,
                chunk_tokens: int = DEFAULT_CHUNK_TOKENS, overlap: float = DEFAULT_OVERLAP) -> list[Chunk]:
    """The chunks of ``pages`` in reading order. Blank pages give none; whitespace-only chunks are
    dropped. ``page[char_start:char_end] == chunk.text`` holds for every chunk."""
    chunker = semchunk.chunkerify(count_tokens, chunk_tokens)
    out: list[Chunk] = []
    for page_number, page in enumerate(pages, start=1):
        if not page.strip():
            continue
        texts, offsets = chunker(page, offsets=True, overlap=overlap)
        for text, (start, end) in zip(texts, offsets, strict=True):
            if not text.strip():
                continue
            out.append(Chunk(len(out), page[start:end], page_number, start, end))
    return out
