"""Planning, running and summarising a study.

:func:`plan_study` expands the grid, checks every cell's configuration and prepares the
competitions (before any cell runs, so that a mistake costs seconds, not hours) and tells finished
cells from the rest. :func:`run_study` hands the rest to a cell runner and writes the results:
``aggregate.csv``, ``aggregate.json``, ``aggregate.md``, ``crossover.png`` and
``convergence.png``. The study directory::

    <out>/study.toml                       the spec as given
    <out>/cells/<preset>/<model>/<competition>/seed-<n>/
        run/                               the agent run (journal, nodes, grading.json)
        cell.json                          the summary; written last: the done-marker
        error.txt                          why the last attempt failed (the cell is retried)
    <out>/results/                         the tables and the figures
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
from attrs import frozen
from cattrs.errors import ClassValidationError

from gome_core.config import resolve
from gome_core.errors import ConfigError, GomeError, UsageError
from gome_core.interfaces import CellRunner, LostCell
from gome_core.logs import get_logger
from gome_core.periodic import Periodic
from gome_core.plugins import PluginRegistry, get_registry
from gome_core.study.aggregate import (
    AggregateRow,
    aggregate,
    to_markdown,
    version_mix,
    write_tables,
)
from gome_core.study.cell import CELL_FILE, RUN_DIR, CellTask, read_cell, run_cell
from gome_core.study.grid import (
    Cell,
    cell_settings,
    check_settings,
    expand_grid,
    fingerprint,
    run_order,
)
from gome_core.study.spec import StudySpec

__all__ = [
    "StudyPlan",
    "StudyResult",
    "check_runner",
    "create_cell_runner",
    "plan_study",
    "run_study",
]

log = get_logger(__name__)

CELLS_DIR = "cells"
RESULTS_DIR = "results"
SPEC_COPY = "study.toml"
ERROR_FILE = "error.txt"


@frozen
class StudyPlan:
    """The cells of a study, the tasks to run and the summaries of those already finished."""

    spec: StudySpec
    out_dir: Path
    cells: tuple[Cell, ...]
    pending: tuple[CellTask, ...]
    finished: Mapping[str, Mapping[str, Any]]

    def describe(self) -> list[str]:
        """One line per cell: finished, to run, or left for a later run (``--dry-run``)."""
        pending = {task.key for task in self.pending}

        def state(cell: Cell) -> str:
            if cell.key in self.finished:
                return "done  "
            return "to run" if cell.key in pending else "later "

        return [
            f"{state(cell)}  {cell.label}  ({self.out_dir / CELLS_DIR / cell.key})"
            for cell in self.cells
        ]

    def headline(self, *, unfinished: int | None = None, summarize: bool = False) -> str:
        """The line that introduces a run of the study, or its ``--summarize``: how many cells,
        finished, to run and left for later (``unfinished``: the whole study's unfinished cells,
        when this plan is a part of it); for a summary, which cells the tables cover."""
        name, where = self.spec.study.name, f"study directory {self.out_dir}"
        if summarize:
            return (
                f"gome study {name}: tables and figures of the {len(self.finished)} finished of "
                f"{len(self.cells)} cells (no cell runs); {where}"
            )
        unfinished = len(self.pending) if unfinished is None else unfinished
        left = unfinished - len(self.pending)
        later = f", {left} left for later" if left else ""
        return (
            f"gome study {name}: {len(self.cells)} cells, {len(self.finished)} finished, "
            f"{len(self.pending)} to run{later}; {where}"
        )

    def estimate_s(self) -> tuple[float, int]:
        """How long the pending cells should take, in seconds of cell time (one cell for one
        second), from the finished cells of the same preset and competition, else of the same
        competition; and how many pending cells have neither to go by."""
        by_preset: dict[tuple[str, str], list[float]] = {}
        by_competition: dict[str, list[float]] = {}
        for summary in self.finished.values():
            cell, elapsed = summary.get("cell") or {}, summary.get("elapsed_s")
            if elapsed and "competition" in cell:
                by_preset.setdefault((cell["preset"], cell["competition"]), []).append(elapsed)
                by_competition.setdefault(cell["competition"], []).append(elapsed)
        total, unknown = 0.0, 0
        for task in self.pending:
            competition = task.cell["competition"]
            like = by_preset.get((task.preset, competition)) or by_competition.get(competition)
            if like:
                total += sum(like) / len(like)
            else:
                unknown += 1
        return total, unknown

    def only(
        self,
        *,
        presets: Sequence[str] = (),
        models: Sequence[str] = (),
        competitions: Sequence[str] = (),
        seeds: Sequence[int] = (),
        tables: bool = False,
    ) -> StudyPlan:
        """This plan with only the pending cells that match on every axis given (an axis left
        empty matches every cell): a long study run part by part, cheapest first. The finished
        cells, and so the tables, stay the whole study's unless ``tables`` is true: then the
        tables cover the matching cells only (a part every optimizer has finished, compared on
        its own while the rest runs). ``models`` are labels (``skill=0.5``)."""
        wanted = {"preset": presets, "model": models, "competition": competitions, "seed": seeds}
        for axis, values in wanted.items():
            known = list(dict.fromkeys(_axis_value(_cell_record(c), axis) for c in self.cells))
            unknown = [v for v in values if v not in known]
            if unknown:
                choices = ", ".join(map(str, known))
                raise UsageError(
                    f"{axis} {', '.join(map(repr, unknown))} is not in the study's grid "
                    f"(it has: {choices})"
                )

        def matches(record: Mapping[str, Any]) -> bool:
            return all(
                not values or _axis_value(record, axis) in values for axis, values in wanted.items()
            )

        part = attrs.evolve(self, pending=tuple(t for t in self.pending if matches(t.cell)))
        if not tables:
            return part
        cells = tuple(c for c in self.cells if matches(_cell_record(c)))
        keys = {c.key for c in cells}
        finished = {k: v for k, v in self.finished.items() if k in keys}
        return attrs.evolve(part, cells=cells, finished=finished)


@frozen
class StudyResult:
    """What a study run did and where its results are."""

    out_dir: Path
    ran: int
    skipped: int
    failed: tuple[str, ...]
    rows: tuple[AggregateRow, ...]
    files: tuple[Path, ...]
    #: The versions the cells in the tables ran on (:func:`~gome_core.study.aggregate.version_mix`).
    versions: tuple[tuple[str, int], ...] = ()

    @property
    def markdown(self) -> str:
        return to_markdown(self.rows)


def _axis_value(cell: Mapping[str, Any], axis: str) -> Any:
    """A cell record's value on one axis of the grid (the model by its label)."""
    return cell["model"]["label"] if axis == "model" else cell[axis]


def _cell_record(cell: Cell) -> dict[str, Any]:
    return {
        "preset": cell.preset,
        "model": {
            "kind": cell.model.kind,
            "value": cell.model.value,
            "rank": cell.model.rank,
            "label": cell.model.label,
        },
        "competition": cell.competition,
        "seed": cell.seed,
    }


def _competition_store(spec: StudySpec) -> Any:
    """The store of the spec's competitions: its ``competitions_dirs`` (else
    ``$GOME_COMPETITIONS_DIR``'s) and the bundled ones, data in its ``data_dir``. A directory that
    does not exist is named by its place in the spec (or by the variable)."""
    import os

    from gome_core.competitions import CompetitionStore

    source = str(spec.source) if spec.source is not None else None
    dirs = spec.competitions_dirs()
    missing = [
        (
            f"$.study.competitions_dirs[{i}]",
            f"competitions directory {path} does not exist (relative to the spec's folder, "
            f"{spec.base_dir}); name folders holding one sub-folder per competition (MLE-bench "
            f"layout), e.g. a checkout of MLE-bench's mlebench/competitions",
        )
        for i, path in enumerate(dirs)
        if not Path(path).is_dir()
    ]
    if missing:
        raise ConfigError(missing, source=source)
    if not dirs:
        env = os.environ.get("GOME_COMPETITIONS_DIR", "")
        for path in (p for p in env.split(os.pathsep) if p.strip()):
            if not Path(path).expanduser().is_dir():
                raise UsageError(
                    f"GOME_COMPETITIONS_DIR names competitions directory {path}, which does not "
                    f"exist. Fix or unset the variable, or give the study its own directories "
                    f"with competitions_dirs in the spec's [study] table "
                    f"($.study.competitions_dirs)."
                )
    return CompetitionStore.default(dirs or None, spec.data_dir())


def _not_found(exc: Any, searched: Sequence[Path]) -> str:
    """A competition-not-found message for a study: its remedy is the spec's key, not
    ``--competitions-dir`` (which ``gome study`` does not have)."""
    import difflib

    close = difflib.get_close_matches(exc.competition_id, exc.known, n=3, cutoff=0.5)
    close += [k for k in exc.known if exc.competition_id.lower() in k.lower() and k not in close]
    hint = f" Did you mean {', '.join(repr(c) for c in close[:3])}?" if close else ""
    dirs = ", ".join(str(d) for d in searched) or "none"
    return (
        f"no competition named {exc.competition_id!r}.{hint} Searched: {dirs}. "
        f"`gome tasks list` shows every competition; add a directory of your own competitions "
        f"(MLE-bench layout) to competitions_dirs in [study] ($.study.competitions_dirs)"
    )


def _check_competitions(spec: StudySpec, *, prepare: bool) -> None:
    """Every competition exists (a dry run stops here); ``prepare``: prepared and gradable."""
    from gome_core.competitions.errors import CompetitionNotFoundError
    from gome_core.engine.launch import competition_ref

    store = _competition_store(spec)
    source = str(spec.source) if spec.source is not None else None
    unknown, found = [], []
    for i, competition_id in enumerate(spec.grid.competitions):
        path = f"$.grid.competitions[{i}]"
        try:
            found.append((path, competition_id, store.get(competition_id)))
        except CompetitionNotFoundError as exc:
            unknown.append((path, _not_found(exc, store.competitions_dirs)))
        except GomeError as exc:
            unknown.append((path, str(exc)))
    if unknown:
        raise ConfigError(unknown, source=source)
    if not prepare:
        return
    for path, competition_id, competition in found:
        try:  # prepare() returns at once for a prepared competition
            # competition_ref: a leaderboard whose direction cannot be read fails here
            competition_ref(store.prepare(competition))
        except GomeError as exc:
            where = f"{source}: " if source else ""
            raise UsageError(f"{where}{path} ({competition_id}): {exc}") from None


def plan_study(
    spec: StudySpec,
    out_dir: str | Path,
    *,
    registry: PluginRegistry | None = None,
    prepare: bool = True,
) -> StudyPlan:
    """Expand and check the grid; find the finished cells. Every competition must exist;
    ``prepare``: prepare them too (and check that each can be graded)."""
    registry = registry or get_registry()
    check_runner(spec, registry)
    out = Path(out_dir).resolve()
    cells = expand_grid(spec)
    checked: set[tuple[str, str]] = set()
    pending, finished = [], {}
    for cell in run_order(spec):
        settings = cell_settings(spec, cell, registry)
        if (cell.preset, cell.model.label) not in checked:
            check_settings(
                cell.preset, settings, registry, where=f"cell {cell.preset} {cell.model.label}"
            )
            checked.add((cell.preset, cell.model.label))
        digest = fingerprint(cell.preset, settings)
        cell_dir = out / CELLS_DIR / cell.key
        summary = read_cell(cell_dir)
        if summary is not None and summary.get("fingerprint") == digest:
            finished[cell.key] = summary
            continue
        pending.append(
            CellTask(
                key=cell.key,
                cell=_cell_record(cell),
                preset=cell.preset,
                settings=settings,
                fingerprint=digest,
                cell_dir=str(cell_dir),
                competitions_dirs=tuple(spec.competitions_dirs()),
                data_dir=spec.data_dir(),
            )
        )
    _check_competitions(spec, prepare=prepare)
    return StudyPlan(spec, out, tuple(cells), tuple(pending), finished)


def check_llm_keys(plan: StudyPlan, registry: PluginRegistry | None = None) -> None:
    """Build the LLM backend of each model the pending cells use, then close it: a missing key
    stops the study before any cell runs, instead of failing every cell of that model."""
    registry = registry or get_registry()
    seen: set[str] = set()
    for task in plan.pending:
        llm = task.settings.get("llm")
        key = json.dumps([task.preset, llm], sort_keys=True, default=str)
        if llm is None or key in seen:
            continue
        seen.add(key)
        resolved = resolve(preset=task.preset, settings=task.settings, registry=registry)
        if resolved.config.llm is not None:
            resolved.config.llm.create(registry).close()


def check_runner(
    spec: StudySpec, registry: PluginRegistry, *, workers: int | None = None
) -> tuple[Any, Any]:
    """The spec's cell runner registration and its config, structured from ``[runner]`` and the
    number of workers (``--workers``, else ``[study]``'s); a mistake is reported with the spec
    file and its ``$.runner`` path. :func:`plan_study` calls it, so ``--dry-run`` does too."""
    from gome_core.config import _converter, _problems

    source = str(spec.source) if spec.source is not None else None
    registration = registry.get("cell_runner", spec.study.runner, path="$.study.runner")
    if registration.config is None:
        if spec.runner_settings:
            raise ConfigError(
                [
                    (
                        f"$.runner.{key}",
                        f"cell runner {registration.name!r} takes no settings",
                    )
                    for key in spec.runner_settings
                ],
                source=source,
            )
        return registration, None
    settings = dict(spec.runner_settings)
    if "workers" in attrs.fields_dict(registration.config):
        if "workers" in settings:
            raise ConfigError(
                [
                    (
                        "$.runner.workers",
                        "set it in [study] ($.study.workers) or with --workers",
                    )
                ],
                source=source,
            )
        settings["workers"] = spec.study.workers if workers is None else workers
    try:
        config = _converter(registry).structure(settings, registration.config)
    except ClassValidationError as exc:
        raise ConfigError(_problems(exc, "$.runner"), source=source) from None
    except (ValueError, TypeError) as exc:
        raise ConfigError([("$.runner", str(exc))], source=source) from None
    return registration, config


def create_cell_runner(
    spec: StudySpec, registry: PluginRegistry, *, workers: int | None = None
) -> CellRunner:
    """The spec's cell runner, configured from ``[runner]`` and the number of workers."""
    registration, config = check_runner(spec, registry, workers=workers)
    if config is None:
        return registration.create()  # type: ignore[no-any-return]
    return registration.create(config)  # type: ignore[no-any-return]


def _outcome_line(summary: Mapping[str, Any]) -> str:
    if summary.get("status") != "done":
        return f"{summary.get('status', 'error').upper()}: {summary.get('error', '')}".strip()
    grading = summary.get("grading")
    steps = f"{summary['steps']} steps, {summary['elapsed_s']:.0f} s"
    if not grading or not grading.get("valid_submission"):
        reason = (grading or {}).get("reason") or "no submission"
        return f"no valid submission ({reason}); {steps}"
    medal = next((m for m in ("gold", "silver", "bronze") if grading.get(f"{m}_medal")), None)
    placing = (
        f"{medal} medal"
        if medal
        else ("above median" if grading.get("above_median") else "below median")
    )
    return f"{placing}, {summary['metric']['name']} {grading['score']:.5g}; {steps}"


def _lost_summary(lost: LostCell[CellTask]) -> dict[str, Any]:
    """The failure summary of a cell whose process died before it could write one."""
    task = lost.item
    return {"key": task.key, "cell": dict(task.cell), "status": "error", "error": lost.reason}


class _Progress(Periodic):
    """Every ``every_s`` seconds, a line per cell in flight: its finished steps and its time so
    far, read from the cell's journal (a long cell is otherwise silent until it ends)."""

    def __init__(self, plan: StudyPlan, report: Callable[[str], None], every_s: float) -> None:
        super().__init__(every_s, self._report, name="gome-study-progress")
        self.plan, self.report = plan, report
        self.since = time.time()  # journals older than this are left by an earlier attempt
        self.ended: set[str] = set()  # cells reported, whether finished, failed or interrupted

    def _report(self) -> None:
        for line in self.lines():
            self.report(line)

    def lines(self) -> list[str]:
        from gome_core.journal import Journal

        budget = self.plan.spec.study.steps
        out = []
        for task in self.plan.pending:
            if task.key in self.ended:
                continue
            cell_dir = Path(task.cell_dir)
            journal = cell_dir / RUN_DIR / "journal.jsonl"
            if (cell_dir / CELL_FILE).exists() or not journal.is_file():
                continue
            try:
                events = list(Journal.read(journal))
            except Exception:  # noqa: BLE001 - a progress line never stops a study
                continue
            if not events or events[0].get("time", 0) < self.since:
                continue
            steps = sum(e.get("type") == "step_finished" for e in events)
            minutes = (time.time() - events[0]["time"]) / 60
            of = f"/{budget}" if budget else ""
            out.append(f"  in flight: {task.key}: {steps}{of} steps, {minutes:.0f} min")
        return out


def run_study(
    plan: StudyPlan,
    *,
    workers: int | None = None,
    registry: PluginRegistry | None = None,
    report: Callable[[str], None] = lambda line: None,
    cell_fn: Callable[[CellTask], dict[str, Any]] = run_cell,
    runner: CellRunner | None = None,
) -> StudyResult:
    """Run the plan's pending cells and write the study's tables and figures.

    ``report`` receives one progress line per event. ``cell_fn`` (a picklable module-level
    function) runs one cell; ``runner`` defaults to the spec's. Cells that fail, or whose process
    dies, are recorded in their ``error.txt`` and retried by the next run; the study goes on with
    the others, and the results cover the finished cells.
    """
    registry = registry or get_registry()
    spec = plan.spec
    plan.out_dir.mkdir(parents=True, exist_ok=True)
    if spec.source is not None:
        shutil.copyfile(spec.source, plan.out_dir / SPEC_COPY)
    total = len(plan.cells)
    if plan.finished:
        report(f"{len(plan.finished)} of {total} cells already finished: skipped")
    failed: list[str] = []
    ran = 0
    if plan.pending:
        owned = runner is None
        runner = runner or create_cell_runner(spec, registry, workers=workers)
        report(f"running {len(plan.pending)} cells with the {spec.study.runner!r} cell runner")
        started = time.monotonic()
        try:
            with _Progress(plan, report, spec.study.progress_s) as progress:
                for outcome in runner.map(cell_fn, plan.pending):
                    ran += 1
                    summary = _lost_summary(outcome) if isinstance(outcome, LostCell) else outcome
                    key = summary["key"]
                    progress.ended.add(key)
                    cell_dir = plan.out_dir / CELLS_DIR / key
                    if summary.get("status") != "done":
                        failed.append(key)
                        cell_dir.mkdir(parents=True, exist_ok=True)
                        (cell_dir / ERROR_FILE).write_text(
                            summary.get("traceback") or summary.get("error", ""), encoding="utf-8"
                        )
                    else:
                        (cell_dir / ERROR_FILE).unlink(missing_ok=True)
                    done = len(plan.finished) + ran
                    report(
                        f"[{done}/{total}] {summary['key']}: {_outcome_line(summary)} "
                        f"({time.monotonic() - started:.0f} s into the study)"
                    )
        finally:
            if owned:
                runner.close()
    # Only cells run with the spec's current settings: a stale one (its settings changed since)
    # is left out of the tables until it has run again.
    current = {task.key: task.fingerprint for task in plan.pending}
    current |= {key: summary.get("fingerprint") for key, summary in plan.finished.items()}
    # A cell's place on the axes is the spec's now: a model's rank moves when the spec lists
    # another model before it, and its finished cells (same settings) must move with it.
    summaries = [
        {**s, "cell": _cell_record(cell)}
        for cell in plan.cells
        if (s := read_cell(plan.out_dir / CELLS_DIR / cell.key))
        and s.get("fingerprint") is not None
        and s.get("fingerprint") == current.get(cell.key)
    ]
    rows = aggregate(summaries, presets=spec.grid.presets, competitions=spec.grid.competitions)
    versions = version_mix(summaries)
    if len(versions) > 1:
        mix = "; ".join(f"{text} ({cells} cells)" for text, cells in versions)
        report(
            f"note: the cells in the tables ran on different versions: {mix}. "
            f"A cell runs again, on the code installed now, once its folder under "
            f"{plan.out_dir / CELLS_DIR} is removed."
        )
    if not summaries:
        report("no finished cells to summarise: the tables are empty and there are no figures")
    files = write_results(spec, plan.out_dir, rows, summaries, versions=versions)
    return StudyResult(
        plan.out_dir,
        ran,
        len(plan.finished),
        tuple(failed),
        tuple(rows),
        tuple(files),
        tuple(versions),
    )


def write_results(
    spec: StudySpec,
    out_dir: Path,
    rows: Sequence[AggregateRow],
    summaries: Sequence[Mapping[str, Any]],
    *,
    versions: Sequence[tuple[str, int]],
) -> list[Path]:
    """The tables and, when any cell finished, the figures, in ``<out>/results`` (with none,
    the tables are empty and figures left there by an earlier run are removed); ``versions``
    is the summaries' :func:`~gome_core.study.aggregate.version_mix`."""
    from gome_core.study.grid import model_levels
    from gome_core.study.plots import FIGURES

    results = out_dir / RESULTS_DIR
    files = write_tables(rows, results, study=spec.study.name, versions=versions)
    if not summaries:
        # Figures of an earlier summary would sit next to these empty tables as if current.
        for name in FIGURES:
            (results / name).unlink(missing_ok=True)
    else:
        from gome_core.study.plots import write_plots

        files += write_plots(
            rows,
            summaries,
            results,
            competitions=spec.grid.competitions,
            model_axis=model_levels(spec)[0].kind,
        )
    return files
