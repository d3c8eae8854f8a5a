"""Size and build time of a run's HTML report.

Reports on RUN_DIR, or first makes a 30-step offline run on penguins-mass (the figure the reports
guide quotes: a page of about 650 KB, written in well under a second). Prints the page's size
and the median, min and max time of ``write_report`` over the repeats.

    python benchmarks/report.py [RUN_DIR] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gome_core.report import load_run, write_report  # noqa: E402


def make_run(root: Path) -> Path:
    """A 30-step offline run on penguins-mass (a few minutes on two cores)."""
    run_dir = root / "run"
    command = [
        sys.executable,
        "-m",
        "gome_core.cli",
        "run",
        "--preset",
        "gome",
        "--task",
        "penguins-mass",
        "--steps",
        "30",
        "--run-dir",
        str(run_dir),
    ]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return run_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", nargs="?", type=Path)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    run_dir = args.run_dir or make_run(Path(tempfile.mkdtemp(prefix="gome-bench-")))
    steps = len(load_run(run_dir).steps)
    times = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        path = write_report(run_dir)
        times.append(time.perf_counter() - started)
    size_kb = path.stat().st_size / 1024
    print(f"run: {run_dir} ({steps} steps)")
    print(f"page: {size_kb:.0f} KB")
    print(
        f"write_report: median {statistics.median(times):.3f} s, "
        f"min {min(times):.3f} s, max {max(times):.3f} s over {args.repeats}"
    )


if __name__ == "__main__":
    main()
