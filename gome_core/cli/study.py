"""``gome study SPEC.toml``: run a grid of presets x models x competitions x seeds."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import attrs
import click

if TYPE_CHECKING:
    from gome_core.study.run import StudyPlan

__all__ = ["study"]


@click.command()
@click.argument("spec_path", metavar="SPEC.toml", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    help="The study directory (default: runs/studies/NAME). Re-use it to resume.",
)
@click.option("--workers", type=click.IntRange(min=0), help="Cells run at once (default: spec).")
@click.option("--dry-run", is_flag=True, help="Check the spec and list the cells; run nothing.")
@click.option(
    "--summarize",
    is_flag=True,
    help="Write the tables and figures of the cells finished so far (of the part that "
    "--preset, --model, --competition and --seed choose); run no cell.",
)
@click.option(
    "--preset", "presets", multiple=True, help="Run only this preset's cells (repeatable)."
)
@click.option(
    "--model",
    "models",
    multiple=True,
    help="Run only this model's cells, by its label: skill=0.5, or an LLM (repeatable).",
)
@click.option(
    "--competition",
    "competitions",
    multiple=True,
    help="Run only this competition's cells (repeatable).",
)
@click.option(
    "--seed", "seeds", type=int, multiple=True, help="Run only this seed's cells (repeatable)."
)
def study(
    spec_path: str,
    out_dir: str | None,
    workers: int | None,
    dry_run: bool,
    summarize: bool,
    presets: tuple[str, ...],
    models: tuple[str, ...],
    competitions: tuple[str, ...],
    seeds: tuple[int, ...],
) -> None:
    """Run a study: every cell of the spec's grid, concurrently and resumably.

    Finished cells (those with a cell.json) are skipped, so running the same command again after
    an interruption continues the study. --preset, --model, --competition and --seed run a part
    of it (the tables still cover every finished cell); with --summarize they choose the cells
    the tables cover. See docs/studies.md.
    """
    from gome_core.interrupts import sigterm_interrupts
    from gome_core.plugins import get_registry
    from gome_core.study.run import check_llm_keys, plan_study, run_study
    from gome_core.study.spec import load_spec

    registry = get_registry()
    spec = load_spec(spec_path, registry)
    out = Path(out_dir) if out_dir else Path("runs") / "studies" / spec.study.name
    plan = plan_study(spec, out, registry=registry, prepare=not (dry_run or summarize))
    unfinished = len(plan.cells) - len(plan.finished)
    plan = plan.only(
        presets=presets, models=models, competitions=competitions, seeds=seeds, tables=summarize
    )
    click.echo(plan.headline(unfinished=unfinished, summarize=summarize), err=True)
    if plan.pending and not summarize:
        check_llm_keys(plan, registry)
        click.echo(_estimate_line(plan, workers), err=True)
    if dry_run:
        for line in plan.describe():
            click.echo(line)
        return
    if summarize:  # a study still running elsewhere, or stopped part-way: tables of what is done
        plan = attrs.evolve(plan, pending=())
    try:
        with sigterm_interrupts():
            result = run_study(
                plan,
                workers=workers,
                registry=registry,
                report=lambda line: click.echo(line, err=True),
            )
    except KeyboardInterrupt:
        part = "".join(
            f" --{name} {value}"
            for name, values in (
                ("preset", presets),
                ("model", models),
                ("competition", competitions),
                ("seed", seeds),
            )
            for value in values
        )
        click.echo(
            f"\ninterrupted: finished cells are kept. Continue with: gome study {spec_path} "
            f"--out {plan.out_dir}{part}",
            err=True,
        )
        raise SystemExit(130) from None
    click.echo("\n" + result.markdown)
    if result.failed:
        click.echo(
            f"{len(result.failed)} cells failed (see error.txt in each); run the same command "
            f"again to retry them: {', '.join(result.failed)}",
            err=True,
        )
    click.echo(f"ran {result.ran} cells, skipped {result.skipped} finished ones")
    click.echo("results:")
    for path in result.files:
        click.echo(f"  {path}")
    if result.failed:
        raise SystemExit(1)


def _estimate_line(plan: StudyPlan, workers: int | None) -> str:
    """How long the cells to run should take, judged by finished cells like them."""
    seconds, unknown = plan.estimate_s()
    if unknown == len(plan.pending):
        return "time to run: no estimate yet (no finished cell of these competitions)"
    line = f"time to run: about {_duration(seconds)} of cell time"
    at_once = min(workers if workers is not None else plan.spec.study.workers, len(plan.pending))
    if at_once > 0:  # 0: the runner decides how many run at once
        line += f", {_duration(seconds / at_once)} with {at_once} at once"
    line += " (from finished cells like them)"
    if unknown:
        line += f"; {unknown} of them have no finished cell like them to go by"
    return line


def _duration(seconds: float) -> str:
    return f"{seconds / 3600:.1f} hours" if seconds >= 3600 else f"{seconds / 60:.0f} minutes"
