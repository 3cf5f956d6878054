"""bench/local.py counts tokens, not events, and compares alternating pairs."""

from __future__ import annotations

import pytest

from bench import local


def count(text: str) -> int:  # a stand-in tokenizer: one token per word
    return len(text.split())


def test_the_rate_does_not_depend_on_how_tokens_are_grouped_into_events() -> None:
    words = [f" w{i}" for i in range(9)]
    per_token = local._result(0.0, 1.0, 2.0, len(words), words, count)
    merged = local._result(0.0, 1.0, 2.0, 3, [words[0], "".join(words[1:5]), "".join(words[5:])], count)
    assert per_token["tokens"] == merged["tokens"] == 9
    assert per_token["decode_tokens_per_s"] == merged["decode_tokens_per_s"] == 8.0
    merged_first = local._result(0.0, 1.0, 2.0, 2, ["".join(words[:3]), "".join(words[3:])], count)
    assert merged_first["decode_tokens_per_s"] == 6.0  # the tokens of the first event are not in the rate


def test_too_little_text_is_an_error() -> None:
    with pytest.raises(RuntimeError):
        local._result(0.0, 1.0, 1.0, 1, [" one"], count)


def test_summary_uses_the_median_of_the_pairs() -> None:
    def run(rate: float, ttft: float, text: str = "same") -> dict[str, object]:
        return {"decode_tokens_per_s": rate, "ttft_ms": ttft, "text": text}

    platform = [run(90, 30), run(50, 30), run(100, 25)]
    direct = [run(100, 20), run(100, 20), run(100, 20)]
    summary = local.summarize("m.gguf", 8, platform, direct, {}, [1.0, 1.0])
    assert summary["ratio"] == 0.9 and summary["pair_ratios"] == [0.9, 0.5, 1.0]
    assert summary["ttft_overhead_ms"] == 10 and summary["same_text"]
    assert "text" not in summary["platform"][0]
    assert "ratio 0.900" in local.text(summary)
