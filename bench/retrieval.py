"""The retrieval benchmark: ``python -m bench.retrieval`` (``make bench-retrieval``).

Four phases, each on a fresh SQLite database in a temp directory, through the real code (migrations,
:class:`~agentcreator.rag.knowledge.Knowledge`, its worker, its retriever):

1. ``ingest``: a generated 300-page PDF (deterministic pseudo-English, fpdf2) goes the way of a file
   added to a knowledge base: sniffing and text extraction (pypdf), its pages split at the page marks,
   then the ingestion job (chunking, the embedded MiniLM model, the chunk rows). Reports pages/s and
   chunks/s.
2. ``latency``: knowledge bases of 10k and 100k chunks, generated text with random unit vectors (a
   brute-force scan costs the same whatever the vectors hold; embedding 100k chunks would take over an
   hour here), bulk-inserted. Reports hybrid search p50/p95 (query embedding, FTS5 BM25, the dense scan,
   fusion, loading the passages) over a warm cache. Target: p95 <= 50 ms at 100k.
3. ``eval``: recall@1/@5 of BM25, dense and hybrid on two corpora built from docstrings
   (bench/retrieval_eval.py: the running Python's standard library, and the packages the platform
   installs, a held-out check): the summary line is the query, the rest the passage.
4. ``turn``: what automatic retrieval adds to a chat turn's time to first token through the real
   server, at 10k chunks (bench/retrieval_turn.py). Target: at most 30 ms p50.

Writes JSON to bench/results/retrieval-<label>.json and prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import insert

from agentcreator.billing import Billing
from agentcreator.core.config import BillingSettings, FileSettings, KnowledgeSettings
from agentcreator.db.migrate import upgrade
from agentcreator.db.models import KnowledgeBase, KnowledgeChunk, KnowledgeDocument, User
from agentcreator.db.session import create_engine, create_session_factory, transaction
from agentcreator.files.prepare import prepare_upload, sniff_upload
from agentcreator.rag.embeddings import MiniLMEmbedder, to_blob
from agentcreator.rag.knowledge import Knowledge
from agentcreator.services.knowledge_files import pages_of_extracted_text
from bench import retrieval_eval

ROOT = Path(__file__).resolve().parent
SYLLABLES = ("ka ri to mo na shi ve lo da pe ru mi zo ta ne gu ba lin dor sen tal mar kes pol vin rat "
             "cor bel fen gar hul jor kil mun nor pra quo sil tor ux vel wim yor zen").split()
STOPWORDS = ("the of and to a in is that for it as was with be by on not he this are or his from at which "
             "but have an they you were her all she there would their we him been has when who will more no "
             "if out so said what up its about into than them can only other").split()


def _vocabulary(size: int, rng: random.Random) -> list[str]:
    words: dict[str, None] = {}
    while len(words) < size:
        words["".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))] = None
    return list(words)


class TextGenerator:
    """Deterministic pseudo-English: content words drawn from a 20,000-word vocabulary with Zipf's law
    (frequency ~ 1/rank, as in natural language), and function words making up ~40% of the tokens."""

    def __init__(self, seed: int = 7, vocabulary: int = 20_000) -> None:
        self.rng = random.Random(seed)
        self.words = _vocabulary(vocabulary, random.Random(1))
        weights = [1.0 / rank for rank in range(1, vocabulary + 1)]
        self.cumulative = list(itertools.accumulate(weights))

    def sentence(self) -> str:
        n = self.rng.randint(8, 20)
        content = self.rng.choices(self.words, cum_weights=self.cumulative, k=n)
        words = [self.rng.choice(STOPWORDS) if self.rng.random() < 0.4 else w for w in content]
        return " ".join(words).capitalize() + "."

    def paragraph(self, sentences: int) -> str:
        return " ".join(self.sentence() for _ in range(sentences))

    def query_from(self, text: str) -> str:
        """A few consecutive words of ``text``, as a user would recall them."""
        words = re.findall(r"\w+", text)
        n = self.rng.randint(3, 8)
        start = self.rng.randrange(max(1, len(words) - n))
        return " ".join(words[start:start + n])


def generated_pages(count: int, seed: int = 7) -> list[str]:
    generator = TextGenerator(seed)
    return ["\n\n".join(generator.paragraph(generator.rng.randint(3, 7)) for _ in range(5)) for _ in range(count)]


async def _fresh(tmp: Path, name: str) -> tuple[Any, Any, str]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp / name}.db")
    await upgrade(engine)
    sessions = create_session_factory(engine)
    async with transaction(sessions) as session:
        user = User(email=f"{name}@bench.local", name="bench", password_hash="x")
        session.add(user)
        await session.flush()
        user_id = user.id
    return engine, sessions, user_id


async def _base(sessions: Any, user_id: str, model: str) -> str:
    async with transaction(sessions) as session:
        base = KnowledgeBase(owner_id=user_id, name="bench", description="", embedding_model=model,
                             embedding_dimensions=384, revision=0)
        session.add(base)
        await session.flush()
        return base.id


def generated_pdf(pages: list[str]) -> bytes:
    """A real PDF of ``pages`` (fpdf2, a test dependency): one page each, wrapped text."""
    from fpdf import FPDF

    document = FPDF()
    document.set_font("helvetica", size=11)
    for text in pages:
        document.add_page()
        document.multi_cell(0, 6, text)
    return bytes(document.output())


async def ingest_phase(tmp: Path, embedder: MiniLMEmbedder, pages: int) -> dict[str, Any]:
    """A generated PDF through the path of a file added to a base: sniffing and text extraction
    (pypdf, as at upload), its pages split at the page marks, then the ingestion job (chunking,
    embedding, the chunk rows). Timed from the stored file to the document ready."""
    engine, sessions, user_id = await _fresh(tmp, "ingest")
    knowledge = Knowledge(sessions, embedder, KnowledgeSettings(workers=0), Billing(sessions, BillingSettings()))
    base_id = await _base(sessions, user_id, embedder.model_id)
    path = tmp / "generated.pdf"
    path.write_bytes(generated_pdf([page.replace("\n\n", "\n") for page in generated_pages(pages)]))
    settings = FileSettings()
    started = time.perf_counter()
    prepared = prepare_upload(path, sniff_upload(path, path.name, settings), settings)
    assert prepared.text is not None and prepared.text.pages == pages, prepared
    extracted = time.perf_counter() - started
    marks = [f"[Page {n}]" for n in range(1, pages + 1)]
    text_pages = pages_of_extracted_text(prepared.text.text, marks)
    document = await knowledge.ingest_document(base_id, path.name, text_pages, owner_id=user_id)
    assert await knowledge.worker.run_once()
    elapsed = time.perf_counter() - started
    async with transaction(sessions) as session:
        stored = await session.get(KnowledgeDocument, document.id)
        assert stored is not None and stored.status == "ready", stored and stored.error
        chunks, stored_pages = stored.chunk_count, stored.page_count
    await engine.dispose()
    return {"pages": pages, "stored_pages": stored_pages, "pdf_bytes": path.stat().st_size, "chunks": chunks,
            "extract_seconds": round(extracted, 2), "seconds": round(elapsed, 2),
            "pages_per_s": round(pages / elapsed, 2), "chunks_per_s": round(chunks / elapsed, 2)}


async def _fill(sessions: Any, user_id: str, base_id: str, chunks: int, dimensions: int,
                generator: TextGenerator) -> list[str]:
    """``chunks`` chunks of generated text with random unit vectors; returns a sample of their texts."""
    sample: list[str] = []
    vectors = np.random.default_rng(11).standard_normal((chunks, dimensions)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    per_document = 100
    for start in range(0, chunks, 5000):
        async with transaction(sessions) as session:
            documents = []
            rows = []
            for d in range(start, min(start + 5000, chunks), per_document):
                document = KnowledgeDocument(base_id=base_id, owner_id=user_id, name=f"doc{d}.txt", status="ready",
                                             progress_done=per_document, progress_total=per_document,
                                             chunk_count=per_document, page_count=1, embedding_tokens=0)
                documents.append(document)
            session.add_all(documents)
            await session.flush()
            for n, document in enumerate(documents):
                for i in range(per_document):
                    index = start + n * per_document + i
                    if index >= chunks:
                        break
                    body = generator.paragraph(4)
                    if index % 97 == 0:
                        sample.append(body)
                    rows.append({"document_id": document.id, "base_id": base_id, "ordinal": i, "text": body,
                                 "page": 1, "char_start": 0, "char_end": len(body), "vector": to_blob(vectors[index])})
            await session.execute(insert(KnowledgeChunk), rows)
    return sample


def _calibrate(embedder: MiniLMEmbedder, matrix: np.ndarray) -> dict[str, float]:
    """The floor under the search time on this machine right now: the bare dense scan and one query's
    embedding, outside the platform (a loaded machine shows here first)."""
    query = matrix[0]
    scans, embeds = [], []
    for _ in range(20):
        started = time.perf_counter()
        _ = matrix @ query
        scans.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        embedder.embed_sync(["a short query about something"])
        embeds.append((time.perf_counter() - started) * 1000)
    return {"bare_scan_p50_ms": round(statistics.median(scans), 2),
            "bare_embed_p50_ms": round(statistics.median(embeds), 2)}


async def latency_phase(tmp: Path, embedder: MiniLMEmbedder, sizes: list[int], queries: int) -> list[dict[str, Any]]:
    out = []
    for size in sizes:
        engine, sessions, user_id = await _fresh(tmp, f"latency{size}")
        knowledge = Knowledge(sessions, embedder, KnowledgeSettings(workers=0), Billing(sessions, BillingSettings()))
        base_id = await _base(sessions, user_id, embedder.model_id)
        fill_started = time.perf_counter()
        generator = TextGenerator(seed=11)
        sample = await _fill(sessions, user_id, base_id, size, embedder.dimensions, generator)
        fill = time.perf_counter() - fill_started
        texts = [generator.query_from(generator.rng.choice(sample)) for _ in range(queries)]
        cold_started = time.perf_counter()
        await knowledge.search(user_id, [base_id], "warm up the cache")
        cold = time.perf_counter() - cold_started
        timings = []
        for query in texts:
            started = time.perf_counter()
            hits = (await knowledge.search(user_id, [base_id], query, top_k=5)).passages
            timings.append((time.perf_counter() - started) * 1000)
            assert hits
        timings.sort()
        calibration = _calibrate(embedder, knowledge.dense._entries[base_id].vectors)
        out.append({"chunks": size, "queries": queries, **calibration, "p50_ms": round(statistics.median(timings), 2),
                     "p95_ms": round(timings[int(0.95 * (len(timings) - 1))], 2),
                     "max_ms": round(timings[-1], 2), "first_search_ms": round(cold * 1000, 1),
                     "fill_seconds": round(fill, 1)})
        await engine.dispose()
    return out


async def eval_phase(tmp: Path, embedder: MiniLMEmbedder, limit: int) -> dict[str, Any]:
    """Recall@1/@5 of each ranking on each corpus of ``retrieval_eval`` (one knowledge base each)."""
    report: dict[str, Any] = {"python": platform.python_version()}
    for corpus, modules in retrieval_eval.CORPORA.items():
        report[corpus] = await _eval_corpus(tmp, embedder, corpus, retrieval_eval.docstring_pairs(limit, modules))
    report["hybrid_beats_both"] = all(
        report[corpus]["hybrid"][m] > report[corpus][other][m]
        for corpus in retrieval_eval.CORPORA for other in ("bm25", "dense") for m in ("recall@1", "recall@5"))
    return report


async def _eval_corpus(tmp: Path, embedder: MiniLMEmbedder, corpus: str,
                       pairs: list[retrieval_eval.Pair]) -> dict[str, Any]:
    engine, sessions, user_id = await _fresh(tmp, f"eval-{corpus}")
    knowledge = Knowledge(sessions, embedder, KnowledgeSettings(workers=0), Billing(sessions, BillingSettings()))
    base_id = await _base(sessions, user_id, embedder.model_id)
    started = time.perf_counter()
    expected: dict[str, str] = {}
    for pair in pairs:
        document = await knowledge.ingest_document(base_id, pair.name, [pair.passage], owner_id=user_id)
        expected[pair.name] = document.id
    while await knowledge.worker.run_once():
        pass
    results: dict[str, Any] = {"pairs": len(pairs), "ingest_seconds": round(time.perf_counter() - started, 1)}
    for label, modes in (("bm25", ("bm25",)), ("dense", ("dense",)), ("hybrid", ("bm25", "dense"))):
        at1 = at5 = 0
        for pair in pairs:
            hits = (await knowledge.retriever.search(user_id, [base_id], pair.query, top_k=5, modes=modes)).passages
            documents = list(dict.fromkeys(h.document_id for h in hits))
            at1 += bool(documents) and documents[0] == expected[pair.name]
            at5 += expected[pair.name] in documents[:5]
        results[label] = {"recall@1": round(at1 / len(pairs), 4), "recall@5": round(at5 / len(pairs), 4)}
    await engine.dispose()
    return results


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.retrieval", description="Knowledge retrieval benchmark")
    p.add_argument("--phases", default="ingest,latency,eval,turn")
    p.add_argument("--turn-chunks", type=int, default=10_000, help="chunks in the base of the turn phase")
    p.add_argument("--turns", type=int, default=40, help="turns with and without retrieval, each")
    p.add_argument("--pages", type=int, default=300)
    p.add_argument("--sizes", default="10000,100000")
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--eval-pairs", type=int, default=1000)
    p.add_argument("--label", default="sqlite")
    p.add_argument("--threads", type=int, default=1, help="onnxruntime threads of the embedder")
    return p.parse_args(argv)


async def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    phases = set(args.phases.split(","))
    embedder = MiniLMEmbedder(threads=args.threads)
    report: dict[str, Any] = {"python": sys.version.split()[0], "machine": platform.machine(),
                              "embedder": embedder.model_id, "threads": args.threads, "cpus": os.cpu_count(),
                              "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}
    with tempfile.TemporaryDirectory(prefix="bench-retrieval-") as tmp:
        if "ingest" in phases:
            report["ingest"] = await ingest_phase(Path(tmp), embedder, args.pages)
            print("ingest", json.dumps(report["ingest"]), flush=True)
        if "latency" in phases:
            report["latency"] = await latency_phase(Path(tmp), embedder, [int(s) for s in args.sizes.split(",")],
                                                    args.queries)
            for row in report["latency"]:
                ok = "ok" if row["chunks"] < 100_000 or row["p95_ms"] <= 50 else "MISSED (target p95 <= 50 ms)"
                print("latency", json.dumps(row), ok, flush=True)
        if "eval" in phases:
            report["eval"] = await eval_phase(Path(tmp), embedder, args.eval_pairs)
            print("eval", json.dumps(report["eval"]), flush=True)
            print("hybrid beats bm25 and dense on recall@1 and @5 on every corpus:",
                  report["eval"]["hybrid_beats_both"])
        if "turn" in phases:
            from bench.retrieval_turn import turn_phase  # it imports this module's generator

            report["turn"] = await turn_phase(Path(tmp), args.turn_chunks, args.turns, embedder.dimensions)
            row = report["turn"]
            print("turn", json.dumps(row), "ok" if row["met"] else f"MISSED (target <= {row['target_ms']:g} ms)",
                  flush=True)
    report["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    out = ROOT / "results" / f"retrieval-{args.label}.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print("wrote", out)
    return report


if __name__ == "__main__":
    asyncio.run(main())
