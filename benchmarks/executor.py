"""What does the local executor's sandbox cost, and do concurrent candidates scale?

1. Launch overhead: the median wall time of running a trivial candidate (``pass``) through
   ``LocalExecutor.run`` (workspace, sandbox, measurement, clean-up included), against starting the
   same interpreter with ``python -c pass``. Target: a ratio of at most 1.5. Printed for the
   sandbox with every feature this machine permits and with none (the bare subprocess path).
2. Throughput: 2 CPU-bound candidates at once against 1 alone, as (2 * t1) / t2 where t1 is the
   wall time of one and t2 of both together. Target on 2 free cores: at least 1.7. The same with
   plain subprocesses is printed beside it: what the machine allows at that moment.

Figures only, no assertions: the machine may be shared.

    python benchmarks/executor.py [--runs 30] [--work 8000000] [--only launch|throughput]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

from gome_core import Candidate, ExecutionRequest, ResourceLimits
from gome_core.executors.local import LocalExecutor, LocalExecutorConfig
from gome_core.executors.sandbox import Isolation, probe


def _median(samples: list[float]) -> float:
    return statistics.median(samples)


def launch_overhead(runs: int, root: str) -> None:
    iso = probe()
    bare = Isolation(shell=iso.shell, rlimit=iso.rlimit, proc_environ=iso.proc_environ)
    trivial = ExecutionRequest(Candidate.from_code("trivial", "pass"))
    executors = {
        "executor, full sandbox": LocalExecutor(LocalExecutorConfig(workspace_root=root)),
        "executor, no isolation": LocalExecutor(
            LocalExecutorConfig(workspace_root=root, network=True), isolation=bare
        ),
    }
    samples: dict[str, list[float]] = {"python -c pass": [], **{k: [] for k in executors}}
    for name, ex in executors.items():  # warm caches and the probe
        assert ex.run(trivial).ok, name
    for _ in range(runs):  # interleaved, so load changes hit every case alike
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        samples["python -c pass"].append(time.perf_counter() - started)
        for name, ex in executors.items():
            started = time.perf_counter()
            result = ex.run(trivial)
            samples[name].append(time.perf_counter() - started)
            assert result.ok, result
    for ex in executors.values():
        ex.close()
    base = _median(samples["python -c pass"])
    low = min(samples["python -c pass"])
    print(f"launch overhead, {runs} runs each, interleaved ({sys.executable})")
    print(f"  {'case':<26} {'median ms':>10} {'ratio':>7} {'min ms':>8} {'ratio':>7}")
    for name, values in samples.items():
        print(
            f"  {name:<26} {_median(values) * 1000:>10.1f} {_median(values) / base:>7.2f}"
            f" {min(values) * 1000:>8.1f} {min(values) / low:>7.2f}"
        )
    ratio = _median(samples["executor, full sandbox"]) / base
    verdict = "met" if ratio <= 1.5 else "NOT met"
    print(f"  full sandbox / python -c pass = {ratio:.2f} (target <= 1.50): {verdict}")


def throughput(work: int, root: str, repeats: int) -> None:
    code = f"total = 0\nfor i in range({work}):\n    total += i * i\nprint(total)"
    limits = ResourceLimits(cpus=1, timeout_s=600)

    def sandboxed(i: int) -> None:
        result = ex.run(ExecutionRequest(Candidate.from_code(f"cpu{i}", code), limits=limits))
        assert result.ok, result

    def plain(i: int) -> None:  # the reference: what the machine gives right now
        subprocess.run([sys.executable, "-c", code], check=True, stdout=subprocess.DEVNULL)

    ratios: dict[str, list[float]] = {"executor": [], "plain subprocess": []}
    singles: dict[str, list[float]] = {"executor": [], "plain subprocess": []}
    pairs: dict[str, list[float]] = {"executor": [], "plain subprocess": []}
    with (
        LocalExecutor(LocalExecutorConfig(workspace_root=root)) as ex,
        ThreadPoolExecutor(2) as pool,
    ):
        sandboxed(0)
        for _ in range(repeats):
            for name, one in (("executor", sandboxed), ("plain subprocess", plain)):
                started = time.perf_counter()
                one(0)
                t1 = time.perf_counter() - started
                started = time.perf_counter()
                list(pool.map(one, [1, 2]))
                t2 = time.perf_counter() - started
                singles[name].append(t1)
                pairs[name].append(t2)
                ratios[name].append(2 * t1 / t2)
    print(f"\nthroughput, CPU-bound candidate ({work} loop iterations), {repeats} repeats, medians")
    print(f"  {'case':<18} {'1 alone s':>10} {'2 at once s':>12} {'2 vs 1':>7}")
    for name in ratios:
        print(
            f"  {name:<18} {_median(singles[name]):>10.2f} {_median(pairs[name]):>12.2f}"
            f" {_median(ratios[name]):>7.2f}"
        )
    ratio = _median(ratios["executor"])
    verdict = "met" if ratio >= 1.7 else "NOT met"
    print(f"  executor throughput 2 vs 1 = {ratio:.2f} (target >= 1.70 on 2 free cores): {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--work", type=int, default=8_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", choices=("launch", "throughput"), help="run one part only")
    args = parser.parse_args()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{os.cpu_count()} CPUs, load average {load} (figures are only meaningful when idle)")
    print("sandbox on this machine:")
    for key, value in probe().describe().items():
        print(f"  {key:<15} {value}")
    print()
    with tempfile.TemporaryDirectory(prefix="gome-bench-") as root:
        if args.only != "throughput":
            launch_overhead(args.runs, root)
        if args.only != "launch":
            throughput(args.work, root, args.repeats)


if __name__ == "__main__":
    main()
