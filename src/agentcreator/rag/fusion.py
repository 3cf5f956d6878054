"""Distribution-based score fusion (DBSF, as Qdrant's hybrid queries define it): each ranking's scores
are normalized with the bounds mean - 3 sigma and mean + 3 sigma of that ranking's own candidates, and
a candidate's fused score is the sum of its normalized scores (a ranking it is not in adds nothing).

Why not reciprocal rank fusion (used before): RRF keeps only the ranks, so a passage that one ranking
puts far ahead of the rest counts the same as a near tie, and a passage both rankings list low beats
one either ranking is sure of. On the retrieval eval's two docstring corpora (docs/knowledge.md,
"Retrieval eval") RRF with its paper's k = 60 did not beat dense retrieval alone (a tie at stdlib
recall@5, a loss at packages recall@1), while score fusion led both single rankings on both, at @1
and @5. DBSF has no constant to set: the bounds come from each query's own score distribution (min-max
would let one outlier squash the rest), and both rankings weigh the same. Nothing here was fitted to the eval."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

SIGMAS = 3.0


@dataclass
class Fused:
    id: int
    score: float
    ranks: dict[str, int] = field(default_factory=dict)  # ranking name -> 1-based rank


def normalized(scores: Sequence[float]) -> list[float]:
    """``scores`` mapped so that mean - 3 sigma is 0 and mean + 3 sigma is 1 (population sigma); all
    equal (or one score): 0.5 each, as nothing tells them apart."""
    if not scores:
        return []
    mean = statistics.fmean(scores)
    sigma = statistics.pstdev(scores, mean)
    if sigma == 0.0:
        return [0.5] * len(scores)
    low, span = mean - SIGMAS * sigma, 2 * SIGMAS * sigma
    return [(score - low) / span for score in scores]


def score_fusion(rankings: Mapping[str, Sequence[tuple[int, float]]]) -> list[Fused]:
    """Every id of ``rankings`` (name -> ``(id, score)`` best first, higher scores better), best fused
    first; ties keep the order in which the ids were first seen."""
    fused: dict[int, Fused] = {}
    for name, ranking in rankings.items():
        values = normalized([score for _, score in ranking])
        for rank, ((item, _), score) in enumerate(zip(ranking, values, strict=True), start=1):
            entry = fused.setdefault(item, Fused(item, 0.0))
            if name in entry.ranks:
                continue
            entry.ranks[name] = rank
            entry.score += score
    return sorted(fused.values(), key=lambda f: -f.score)
