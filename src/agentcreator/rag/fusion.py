"""Reciprocal rank fusion (Cormack, Clarke & Büttcher, 2009): score(d) = sum over rankings of
1 / (k + rank(d)), ranks from 1. It needs no score calibration between BM25 and cosine, which is
why it is used here; k = 60 is the paper's constant, not tuned to our eval."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

RRF_K = 60


@dataclass
class Fused:
    id: int
    score: float
    ranks: dict[str, int] = field(default_factory=dict)  # ranking name -> 1-based rank


def reciprocal_rank_fusion(rankings: Mapping[str, Sequence[int]], k: int = RRF_K) -> list[Fused]:
    """Every id of ``rankings`` (name -> ids best first), best fused first; ties keep the order in
    which the ids were first seen."""
    fused: dict[int, Fused] = {}
    for name, ids in rankings.items():
        for rank, item in enumerate(ids, start=1):
            entry = fused.setdefault(item, Fused(item, 0.0))
            if name in entry.ranks:
                continue
            entry.ranks[name] = rank
            entry.score += 1.0 / (k + rank)
    return sorted(fused.values(), key=lambda f: -f.score)
