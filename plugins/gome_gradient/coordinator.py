"""The trace coordinator: N traces, one step in flight per trace, forced diversification.

Until its first acceptance a trace must differ from its siblings: from the hypotheses of their
finished steps (``avoid``) and of their steps in flight (``pursuing``). A diversifying trace
chooses its direction only after the choices already in progress, so the traces' first steps,
which all start at once, see each other's directions.
"""

from __future__ import annotations

import contextlib
import threading
from collections import defaultdict
from collections.abc import Iterator, Sequence

from attrs import frozen

from gome_core.interfaces import TraceCoordinator
from gome_core.types import Hypothesis

__all__ = ["CoordinatorConfig", "GomeCoordinator"]


@frozen
class CoordinatorConfig:
    """Settings of the Gome trace coordinator."""

    diversify: bool = True  # until its first acceptance, a trace must differ from its siblings


class GomeCoordinator(TraceCoordinator):
    """Gives the next step to the free trace that has taken the fewest steps."""

    def __init__(self, config: CoordinatorConfig | None = None) -> None:
        self.config = config or CoordinatorConfig()
        self._lock = threading.Lock()
        self._steps: dict[int, int] = defaultdict(int)
        self._accepted: dict[int, int] = defaultdict(int)
        self._tried: dict[int, list[Hypothesis]] = defaultdict(list)
        self._in_flight: dict[int, Hypothesis] = {}
        self._choosing = threading.Lock()  # one diversifying trace chooses at a time

    def next_trace(self, busy: frozenset[int]) -> int | None:
        with self._lock:
            free = [t for t in range(self.traces) if t not in busy]
            return min(free, key=lambda t: (self._steps[t], t)) if free else None

    def _diversifying(self, trace: int) -> bool:
        return self.config.diversify and not self._accepted[trace]

    def avoid(self, trace: int) -> Sequence[Hypothesis]:
        with self._lock:
            if not self._diversifying(trace):
                return []
            return [h for t, tried in self._tried.items() if t != trace for h in tried]

    def pursuing(self, trace: int) -> Sequence[Hypothesis]:
        with self._lock:
            if not self._diversifying(trace):
                return []
            return [h for t, h in sorted(self._in_flight.items()) if t != trace]

    @contextlib.contextmanager
    def choosing(self, trace: int) -> Iterator[None]:
        with self._lock:
            wait = self._diversifying(trace)
        if not wait:
            yield
            return
        with self._choosing:
            yield

    def propose(self, trace: int, hypothesis: Hypothesis) -> None:
        with self._lock:
            self._in_flight[trace] = hypothesis

    def record(self, trace: int, hypothesis: Hypothesis, accepted: bool) -> None:
        with self._lock:
            self._in_flight.pop(trace, None)
            self._steps[trace] += 1
            self._tried[trace].append(hypothesis)
            if accepted:
                self._accepted[trace] += 1

    def steps(self, trace: int) -> int:
        with self._lock:
            return self._steps[trace]
