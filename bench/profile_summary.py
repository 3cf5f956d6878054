"""Summarize a py-spy ``--format raw`` profile (collapsed stacks): the functions where the server's
samples are, by self time and by inclusive time. ``python -m bench.profile_summary FILE``."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path


def summarize_file(path: Path, top: int = 30) -> str:
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        own[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
    out = [f"{total} samples", "", "self:"]
    out += [f"  {100 * n / total:5.1f}%  {frame}" for frame, n in own.most_common(top)]
    out += ["", "inclusive:"]
    out += [f"  {100 * n / total:5.1f}%  {frame}" for frame, n in inclusive.most_common(top)]
    return "\n".join(out)


if __name__ == "__main__":
    print(summarize_file(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 30))
