"""How much does `gome --help` cost over a bare interpreter start?

Prints the median wall time of `python -c pass` and of `gome --help` (run as
`python -m gome_core.cli --help`, so both pay the same interpreter start) over N runs, and the
difference. Target: under 0.3 s more than `python -c pass`.

    python benchmarks/startup.py [--runs 21]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def median_time(argv: list[str], runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    cases = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "gome --help": [sys.executable, "-m", "gome_core.cli", "--help"],
        "gome plugins --json": [sys.executable, "-m", "gome_core.cli", "plugins", "--json"],
    }
    median_time(cases["gome --help"], 2)  # warm the file cache
    results = {name: median_time(argv, args.runs) for name, argv in cases.items()}
    base = results["python -c pass"]
    print(f"{'command':<22} {'median s':>9} {'over python':>12}")
    for name, seconds in results.items():
        print(f"{name:<22} {seconds:>9.3f} {seconds - base:>+12.3f}")
    extra = results["gome --help"] - base
    print(
        f"\ngome --help costs {extra:.3f} s over `python -c pass` (target < 0.300 s): "
        f"{'met' if extra < 0.3 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
