"""Engine overhead per step: time not spent in candidates or reasoning.

Runs the Gome optimizer with a trivial estimator and implementer, the real validators, journal and
run directory, and a no-op executor (it returns at once with a ready workspace), for N steps on one
worker. Prints the median per-step wall time around step 10 and around step N (constant cost means
a ratio near 1; target < 20 ms per step) and the journal's size per step.

    python benchmarks/engine.py [--steps 1000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gome_core import ExecutionRequest, ExecutionResult, Executor, Metric  # noqa: E402
from gome_core.config import resolve  # noqa: E402
from gome_core.engine.launch import build_engine  # noqa: E402
from gome_core.journal import Journal  # noqa: E402
from gome_core.plugins import load_plugins, reset_registry  # noqa: E402
from gome_core.types import CompetitionRef  # noqa: E402
from tests.engine import toy_plugin  # noqa: E402


class NoOpExecutor(Executor):
    """Returns a finished run at once; the workspace holds a valid submission and score file."""

    def __init__(self, workspace: Path) -> None:
        self.workspace = workspace

    def run(self, request: ExecutionRequest) -> ExecutionResult:
        return ExecutionResult(exit_code=0, workspace=self.workspace, wall_s=0.0)

    def cancel(self) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="gome-bench-"))
    public = tmp / "public"
    public.mkdir()
    rows = "".join(f"{i},0.5\n" for i in range(100))
    (public / "sample_submission.csv").write_text("id,y\n" + rows)
    workspace = tmp / "ws"
    (workspace / "submission").mkdir(parents=True)
    (workspace / "submission" / "submission.csv").write_text("id,y\n" + rows.replace("0.5", "1.5"))
    (workspace / "scores.csv").write_text("model,mae\nlinear,0.3\nensemble,0.3\n")

    registry = load_plugins(extra=[("toy", toy_plugin)])
    reset_registry(registry)
    resolved = resolve(
        preset="toy",
        overrides=[
            f"budget.steps={args.steps}",
            "optimizer.traces=1",
            "engine.workers=1",
            "engine.final_top_k=1",
            "engine.poll_s=0.001",
        ],
        registry=registry,
    )
    competition = CompetitionRef("bench", public, "benchmark", Metric("mae", lower_is_better=True))
    engine = build_engine(resolved, competition, run_dir=tmp / "run")
    engine.executor = NoOpExecutor(workspace)
    engine.context.executor = engine.executor
    started = time.perf_counter()
    engine.run()
    total = time.perf_counter() - started

    times = [
        e["time"]
        for e in Journal.read(tmp / "run" / "journal.jsonl")
        if e["type"] == "step_finished"
    ]
    per_step = [b - a for a, b in zip(times, times[1:], strict=False)]
    early = statistics.median(per_step[5:15])
    late = statistics.median(per_step[-10:])
    size = (tmp / "run" / "journal.jsonl").stat().st_size
    print(f"steps                     {len(times)}")
    print(f"total wall time           {total:.2f} s")
    print(f"per-step cost at step 10  {early * 1000:.2f} ms")
    print(f"per-step cost at step {len(times):<4} {late * 1000:.2f} ms")
    print(f"ratio late / early        {late / early:.2f}")
    print(f"journal size per step     {size / len(times) / 1024:.1f} KiB")
    print(f"target < 20 ms per step: {'met' if max(early, late) < 0.020 else 'NOT met'}")


if __name__ == "__main__":
    main()
