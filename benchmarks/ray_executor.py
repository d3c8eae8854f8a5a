"""The Ray executor against the local executor, on a local Ray instance.

* Per-candidate overhead: the median wall time of a trivial candidate (``pass``), run N times
  one after the other through each executor (interleaved), and the difference.
* Throughput of concurrent traces: K CPU-bound candidates run at once (K threads, as the engine
  runs K traces) against one alone, through the Ray executor; ``K x one / K at once`` is the
  speed-up (K on K free cores: near K).

    python benchmarks/ray_executor.py [--runs 30] [--traces 4] [--work 8000000] [--repeats 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gome_ray import RayExecutor, RayExecutorConfig  # noqa: E402

from gome_core import Candidate, ExecutionRequest, ResourceLimits  # noqa: E402
from gome_core.executors.local import LocalExecutor, LocalExecutorConfig  # noqa: E402


def overhead(local: LocalExecutor, on_ray: RayExecutor, runs: int) -> None:
    trivial = ExecutionRequest(Candidate.from_code("trivial", "pass\n"))
    for ex in (local, on_ray):  # warm up: the probe, Ray's worker processes, the cancel board
        for _ in range(3):
            assert ex.run(trivial).ok
    samples: dict[str, list[float]] = {"local": [], "ray": []}
    for _ in range(runs):
        for name, ex in (("local", local), ("ray", on_ray)):
            started = time.perf_counter()
            result = ex.run(trivial)
            samples[name].append(time.perf_counter() - started)
            assert result.ok, result
    med = {name: statistics.median(values) * 1000 for name, values in samples.items()}
    print(f"per-candidate wall time, trivial candidate, {runs} runs each (median ms)")
    print(f"  local executor  {med['local']:8.1f}")
    print(f"  ray executor    {med['ray']:8.1f}")
    print(f"  ray overhead    {med['ray'] - med['local']:8.1f} ms per candidate")


def throughput(on_ray: RayExecutor, traces: int, work: int, repeats: int) -> None:
    code = f"total = 0\nfor i in range({work}):\n    total += i * i\nprint(total)"
    limits = ResourceLimits(cpus=1, timeout_s=600)

    def one(i: int) -> None:
        request = ExecutionRequest(Candidate.from_code(f"cpu{i}", code), limits=limits)
        result = on_ray.run(request)
        assert result.ok, result

    alone, together = [], []
    with ThreadPoolExecutor(traces) as pool:
        one(0)
        for _ in range(repeats):
            started = time.perf_counter()
            one(0)
            alone.append(time.perf_counter() - started)
            started = time.perf_counter()
            list(pool.map(one, range(traces)))
            together.append(time.perf_counter() - started)
    t1, tk = statistics.median(alone), statistics.median(together)
    print(f"\nthroughput, CPU-bound candidate ({work} iterations), {repeats} repeats (medians)")
    print(f"  1 candidate alone        {t1:8.2f} s")
    print(f"  {traces} traces at once       {tk:8.2f} s")
    print(f"  speed-up {traces} vs 1          {traces * t1 / tk:8.2f}  (candidates per second)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="trivial runs per executor")
    parser.add_argument("--traces", type=int, default=4, help="concurrent CPU-bound candidates")
    parser.add_argument("--work", type=int, default=8_000_000, help="loop iterations per candidate")
    parser.add_argument("--repeats", type=int, default=2, help="repeats of the throughput runs")
    parser.add_argument("--cpus", type=int, default=None, help="CPUs of the local Ray instance")
    args = parser.parse_args()
    root = tempfile.mkdtemp(prefix="gome-bench-ray-")
    sandbox = LocalExecutorConfig(workspace_root=root, keep_workspaces=False)
    started = time.perf_counter()
    with (
        LocalExecutor(sandbox) as local,
        RayExecutor(RayExecutorConfig(local_num_cpus=args.cpus, sandbox=sandbox)) as on_ray,
    ):
        facts = on_ray.hardware()
        print(
            f"local Ray instance: {facts['cluster_cpus']:g} CPUs, started in "
            f"{time.perf_counter() - started:.1f} s\n"
        )
        overhead(local, on_ray, args.runs)
        throughput(on_ray, args.traces, args.work, args.repeats)


if __name__ == "__main__":
    main()
