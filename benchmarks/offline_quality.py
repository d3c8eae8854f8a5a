"""How good is the offline reasoner alone? The `gome` preset at skill 1.0 on every bundled
competition: the share of runs with a valid submission (target 100%), with any medal (target at
least 60%) and above the median, per competition and overall.

It runs the study `studies/offline-quality.toml` (15 steps x 3 seeds x 9 competitions; hours of
CPU on a small machine). Like any study it resumes: run it again and finished cells are skipped.

    python benchmarks/offline_quality.py [--out runs/studies/offline-quality] [--workers 2]
                                         [--seeds 0 1 2] [--steps 15] [--competitions ...]
"""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

import attrs

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "studies" / "offline-quality.toml"

TARGETS = {"valid": 1.0, "any_medal": 0.6}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="runs/studies/offline-quality")
    parser.add_argument("--workers", type=int, default=None, help="cells at once")
    parser.add_argument("--seeds", type=int, nargs="+", default=None)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--competitions", nargs="+", default=None)
    args = parser.parse_args(argv)

    from gome_core.interrupts import sigterm_interrupts
    from gome_core.plugins import get_registry
    from gome_core.study.run import plan_study, run_study
    from gome_core.study.spec import load_spec

    registry = get_registry()
    spec = load_spec(SPEC, registry)
    grid = spec.grid
    if args.seeds:
        grid = attrs.evolve(grid, seeds=tuple(args.seeds))
    if args.competitions:
        grid = attrs.evolve(grid, competitions=tuple(args.competitions))
    study = spec.study if args.steps is None else attrs.evolve(spec.study, steps=args.steps)
    spec = attrs.evolve(spec, grid=grid, study=study)

    plan = plan_study(spec, args.out, registry=registry)
    print(
        f"offline quality: {len(plan.cells)} cells ({len(plan.finished)} finished), "
        f"{spec.study.steps} steps each, seeds {list(grid.seeds)}",
        flush=True,
    )
    try:
        with sigterm_interrupts():  # a kill stops the cells in flight too
            report = functools.partial(print, flush=True)  # progress shows in a redirected log
            result = run_study(plan, workers=args.workers, registry=registry, report=report)
    except KeyboardInterrupt:
        print("stopped; run the same command again to continue (finished cells are kept)")
        return 130
    print()
    print(result.markdown)
    # The study adds an "all" row when there are several competitions.
    overall = next((r for r in result.rows if r.competition == "all"), None)
    if overall is None and len(result.rows) == 1:
        overall = result.rows[0]
    if overall is None:
        print("no finished cells yet")
        return 1
    print()
    print(f"cells finished: {overall.cells} of {len(plan.cells)}")
    for name, label in (
        ("valid", "valid submission"),
        ("any_medal", "any medal"),
        ("above_median", "above median"),
    ):
        value = getattr(overall, name)
        target = TARGETS.get(name)
        verdict = ""
        if target is not None and value.mean is not None:
            verdict = (
                "  (target met)" if value.mean >= target else f"  (target {target:.0%} NOT met)"
            )
        print(f"{label:>17}: {value.format(percent=True)}{verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
