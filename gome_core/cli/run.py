"""``gome run`` and ``gome resume``: a real agent run with live progress."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any

import click

from gome_core.cli.byod import byod_run_options, print_byod_summary, resolve_byod
from gome_core.cli.config import config_options
from gome_core.cli.tasks import store_options
from gome_core.interrupts import sigterm_interrupts

__all__ = ["resume", "run"]


class Progress:
    """Follows the run's events; renders a live table on a terminal, plain lines elsewhere."""

    def __init__(self, *, header: str, budget: Any, metric: Any, live: bool) -> None:
        self.header, self.budget, self.metric = header, budget, metric
        self.live = live
        self.started = time.monotonic()
        self.traces: dict[int, dict[str, Any]] = {}
        self.steps, self.best, self.tokens, self.usd = 0, None, 0, 0.0
        self.lock = threading.Lock()
        self._live: Any = None

    def __enter__(self) -> Progress:
        click.echo(self.header, err=not self.live)
        if self.live:
            from rich.live import Live

            self._live = Live(self.render(), refresh_per_second=4, transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.update(self.render())
            self._live.__exit__(*exc)

    def __call__(self, event: dict[str, Any]) -> None:
        with self.lock:
            self._update(event)
        if self._live is not None:
            self._live.update(self.render())

    def _update(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        if kind == "step_started":
            proposal = event["proposal"]
            trace = self.traces.setdefault(proposal.get("trace") or 0, {"best": None, "steps": 0})
            trace["status"] = f"{proposal['operator']} {proposal['id']}"
        elif kind == "step_finished":
            proposal, node = event["proposal"], event["node"]
            trace = self.traces.setdefault(proposal.get("trace") or 0, {"best": None, "steps": 0})
            trace["steps"] += 1
            trace["status"] = "idle"
            self.steps = event["step"]
            score = event.get("score")
            if not event["buggy"] and self.metric.better(score, trace["best"]):
                trace["best"] = score
            if not event["buggy"] and self.metric.better(score, self.best):
                self.best = score
            usage = node.get("usage", {})
            self.tokens += usage.get("input_tokens", 0) + usage.get("output_tokens", 0)
            self.usd += usage.get("usd", 0.0)
            if not self.live:
                outcome = "failed" if event["buggy"] else f"{self.metric.name}={score:.5g}"
                click.echo(
                    f"step {self.steps}: {node['candidate']['id']} "
                    f"({proposal['operator']}) {outcome}; best {self._fmt(self.best)}",
                    err=True,
                )
        elif kind == "final_choice" and not self.live:
            click.echo(
                f"final choice: {event['chosen']} (re-validated on seeds "
                f"{event['seeds'] or 'none'})",
                err=True,
            )

    @staticmethod
    def _fmt(score: float | None) -> str:
        return "-" if score is None else f"{score:.5g}"

    def render(self) -> Any:
        from rich.table import Table

        elapsed = time.monotonic() - self.started
        limits = []
        if self.budget.steps:
            limits.append(f"{self.steps}/{self.budget.steps} steps")
        if self.budget.hours:
            limits.append(f"{elapsed / 60:.1f}/{self.budget.hours * 60:.0f} min")
        title = (
            f"best {self.metric.name} {self._fmt(self.best)}  ·  "
            + "  ·  ".join(limits)
            + (f"  ·  {self.tokens} tokens ${self.usd:.2f}" if self.tokens else "")
        )
        table = Table("trace", "status", "steps", f"best {self.metric.name}", title=title)
        for trace, state in sorted(self.traces.items()):
            table.add_row(
                str(trace), state.get("status", ""), str(state["steps"]), self._fmt(state["best"])
            )
        return table


def _describe_reasoning(resolved: Any) -> str:
    llm = resolved.config.llm
    if llm is None:
        return "reasoning: offline reasoner (rule-based, no LLM is called)"
    model = getattr(llm.config, "model", "")
    return f"reasoning: LLM {llm.name}{':' + model if model else ''}"


def _finish(outcome: Any, engine: Any, store: Any, competition: Any) -> None:
    from gome_core.engine.launch import grade_run

    path = engine.run_dir.path
    click.echo(
        f"\nrun {outcome.status} after {outcome.steps} steps "
        f"({outcome.elapsed_s / 60:.1f} min){': ' + outcome.reason if outcome.reason else ''}"
    )
    if outcome.status == "interrupted":
        click.echo(f"state saved. Continue with: gome resume {path}")
        return
    if outcome.final is not None:
        click.echo(
            f"final: {outcome.final.id}, validation {engine.metric.name} {outcome.final.score:.5g}"
        )
    if outcome.usage.calls:
        click.echo(
            f"LLM: {outcome.usage.calls} calls, {outcome.usage.total_tokens} tokens, "
            f"${outcome.usage.usd:.2f}"
        )
    graded = outcome.submission is not None
    report = grade_run(store, competition, outcome, path, hooks=engine.hooks) if graded else None
    if print_byod_summary(competition, report, outcome.final.score if outcome.final else None):
        from gome_core.byod.report import user_predictions

        if outcome.submission is not None:
            predictions = user_predictions(competition, outcome.submission)
            if predictions is not None:
                target = path / "predictions.csv"
                predictions.to_csv(target, index=False)
                click.echo(f"predictions for your test rows: {target}")
    elif report is not None:
        medal = next((m for m in ("gold", "silver", "bronze") if report[f"{m}_medal"]), None)
        click.echo(
            f"graded: {competition.metric_name} {report['score']} — "
            f"{medal + ' medal' if medal else 'no medal'}"
            f"{', above median' if report['above_median'] else ''} (thresholds: gold "
            f"{report['gold_threshold']}, silver {report['silver_threshold']}, bronze "
            f"{report['bronze_threshold']}, median {report['median_threshold']})"
        )
    elif outcome.submission is None:
        click.echo("no valid submission was produced")
    click.echo(f"run directory: {path}")


def _run_engine(engine: Any, header: str, live: bool, *, resumed: bool) -> Any:
    progress = Progress(header=header, budget=engine.budget, metric=engine.metric, live=live)
    engine.on_event = progress
    with engine, progress, sigterm_interrupts():
        return engine.run(resumed=resumed)


@click.command()
@config_options
@store_options
@byod_run_options
@click.option("--task", "task", help="The competition id (see `gome tasks list`).")
@click.option("--llm", help="LLM backend and model, e.g. openai:gpt-5 (default: offline).")
@click.option("--steps", type=int, help="Budget: number of steps.")
@click.option("--hours", type=float, help="Budget: wall-clock hours.")
@click.option(
    "--traces", type=int, help="Parallel traces, one step in flight each (Gome presets only)."
)
@click.option("--seed", type=int, help="Seed of every random choice.")
@click.option("--run-dir", type=click.Path(file_okay=False), help="Where to write the run.")
def run(
    preset: str | None,
    files: tuple[str, ...],
    overrides: tuple[str, ...],
    competitions_dirs: tuple[Path, ...],
    data_dir: Path | None,
    task: str | None,
    llm: str | None,
    steps: int | None,
    hours: float | None,
    traces: int | None,
    seed: int | None,
    run_dir: str | None,
    **byod: Any,
) -> None:
    """Run an agent on a competition until its budget is spent.

    Examples: gome run --preset quickstart --task digits-8x8;
    gome run --data ./my-folder --goal "predict churn" (your own data).
    """
    from gome_core.config import resolve
    from gome_core.engine.launch import (
        build_engine,
        competition_ref,
        open_competition,
        private_paths,
    )
    from gome_core.errors import ConfigError, UsageError

    sets = list(overrides)
    built = resolve_byod(byod, task=task, run_dir=run_dir, preset=preset or "gome")
    if built is not None:
        own_competitions, own_data, task, byod_run_dir = built
        competitions_dirs = (own_competitions, *competitions_dirs)
        data_dir, run_dir = own_data, str(byod_run_dir)
    for key, value in (
        ("budget.steps", steps),
        ("budget.hours", hours),
        ("optimizer.traces", traces),
        ("seed", seed),
        ("task", task),
    ):
        if value is not None:
            sets.append(f"{key}={value!r}" if isinstance(value, str) else f"{key}={value}")
    if traces is not None:
        sets.append(f"engine.workers={traces}")
    if llm is not None:
        # Before the --set options, which refine the backend (llm.base_url=...).
        name, colon, model = llm.partition(":")
        if colon and not model:
            raise UsageError(
                f"--llm {llm} names no model: give one (--llm {name}:MODEL), or write "
                f"--llm {name} for the backend's default model."
            )
        chosen = [f"llm={name}"] + ([f"llm.model={model!r}"] if model else [])
        sets = chosen + sets
    try:
        resolved = resolve(
            preset=preset, files=files, overrides=sets, fallback_preset=None if files else "gome"
        )
    except ConfigError as exc:
        if traces is not None and any(
            path == "$.optimizer.traces" and "unknown key" in message
            for path, message in exc.problems
        ):
            raise UsageError(
                "--traces applies to Gome presets only: this optimizer has no traces. "
                "To run several steps at once, use --set engine.workers=N."
            ) from None
        raise
    if resolved.config.task is None:
        raise UsageError("which competition? Pass --task ID (see `gome tasks list`).")
    store, competition = open_competition(
        resolved.config.task,
        competitions_dirs=[str(d) for d in competitions_dirs],
        data_dir=str(data_dir) if data_dir else None,
    )
    engine = build_engine(
        resolved,
        competition_ref(competition),
        run_dir=run_dir,
        sources={
            "competitions_dirs": [str(Path(d).resolve()) for d in competitions_dirs],
            "data_dir": str(Path(data_dir).resolve()) if data_dir else None,
        },
        hidden=private_paths(competition),
    )
    header = (
        f"gome run: {competition.id} ({competition.metric_name}, "
        f"{'lower' if competition.lower_is_better else 'higher'} is better) with preset "
        f"{resolved.config.preset or 'custom'}; {_describe_reasoning(resolved)}\n"
        f"run directory: {engine.run_dir.path}"
    )
    outcome = _run_engine(engine, header, sys.stdout.isatty(), resumed=False)
    _finish(outcome, engine, store, competition)


@click.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Change a setting of the run, e.g. --set budget.steps=40.",
)
def resume(run_dir: str, overrides: tuple[str, ...]) -> None:
    """Continue a run from its directory: finished steps are kept, the rest is redone."""
    from gome_core.engine.launch import resume_engine

    engine, store, competition = resume_engine(run_dir, overrides=overrides)
    header = f"gome resume: {competition.id}, run directory {engine.run_dir.path}"
    outcome = _run_engine(engine, header, sys.stdout.isatty(), resumed=True)
    _finish(outcome, engine, store, competition)
