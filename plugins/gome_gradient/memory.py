"""Success memory (momentum): accepted steps are kept for good, failures only since the last
acceptance; other traces' accepted steps are recalled by lexical similarity, decayed by age."""

from __future__ import annotations

import math
import re
import threading
from collections import Counter, defaultdict
from collections.abc import Sequence

from attrs import frozen

from gome_core.interfaces import Momentum
from gome_core.types import MemoryEntry, Metric

__all__ = ["SuccessMemory", "SuccessMemoryConfig", "similarity"]

_WORD = re.compile(r"[a-z0-9]+")


def _bag(text: str) -> Counter[str]:
    return Counter(w for w in _WORD.findall(text.lower()) if len(w) > 2)


def similarity(a: str, b: str) -> float:
    """Cosine similarity of the two texts' word counts, in [0, 1]."""
    x, y = _bag(a), _bag(b)
    dot = sum(x[w] * y[w] for w in x.keys() & y.keys())
    norm = math.sqrt(sum(v * v for v in x.values())) * math.sqrt(sum(v * v for v in y.values()))
    return dot / norm if norm else 0.0


def _text(entry: MemoryEntry) -> str:
    problem = entry.hypothesis.problem.statement if entry.hypothesis.problem else ""
    return f"{entry.hypothesis.statement} {entry.hypothesis.component} {problem}"


@frozen
class SuccessMemoryConfig:
    """Settings of success memory."""

    decay: float = 0.9  # weight of an accepted step falls by this factor per step of age
    gain_weight: float = 0.5  # how much the score gain adds to a recalled step's relevance


class SuccessMemory(Momentum):
    """Gome's momentum, shared across traces. Thread-safe."""

    def __init__(self, config: SuccessMemoryConfig | None = None) -> None:
        self.config = config or SuccessMemoryConfig()
        self.metric: Metric | None = None  # set by the optimizer: to know the global best
        self._lock = threading.Lock()
        self._successes: list[MemoryEntry] = []
        self._failures: dict[int, list[MemoryEntry]] = defaultdict(list)

    def record(self, entry: MemoryEntry) -> None:
        with self._lock:
            if entry.accepted:
                self._successes.append(entry)
                self._failures[entry.trace].clear()  # failures decay at each success
            else:
                self._failures[entry.trace].append(entry)

    def successes(self, trace: int | None = None) -> Sequence[MemoryEntry]:
        with self._lock:
            return [e for e in self._successes if trace is None or e.trace == trace]

    def failures(self, trace: int) -> Sequence[MemoryEntry]:
        with self._lock:
            return list(self._failures[trace])

    def recall(
        self, query: str, *, k: int = 5, exclude_trace: int | None = None
    ) -> Sequence[MemoryEntry]:
        with self._lock:
            pool = [e for e in self._successes if e.trace != exclude_trace]
        if not pool or k <= 0:
            return []
        latest = max(e.step for e in pool)
        # The gain of a first draft (no score before) is 0; a previous score of exactly 0.0 is a
        # score, not a missing one.
        gains = [
            abs(e.score_after - e.score_before)
            if e.score_after is not None and e.score_before is not None
            else 0.0
            for e in pool
        ]
        top_gain = max(gains) or 1.0

        def relevance(i: int) -> float:
            entry = pool[i]
            age = latest - entry.step
            decayed = similarity(query, _text(entry)) * self.config.decay**age
            return decayed + self.config.gain_weight * gains[i] / top_gain

        ranked = sorted(range(len(pool)), key=relevance, reverse=True)
        chosen = [pool[i] for i in ranked[:k]]
        best = self._global_best(pool)
        if best is not None and best not in chosen:
            chosen = [*chosen[: k - 1], best] if k > 1 else [best]
        return chosen

    def _global_best(self, pool: Sequence[MemoryEntry]) -> MemoryEntry | None:
        if self.metric is None:
            return None
        best: MemoryEntry | None = None
        for entry in pool:
            if best is None or self.metric.better(entry.score_after, best.score_after):
                best = entry
        return best
