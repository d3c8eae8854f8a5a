"""Building a run from a resolved configuration, and resuming one from its directory.

This is what ``gome run`` and ``gome resume`` call, and what a Python user calls to run a
configured agent (``docs/python-api.md`` shows how to compose one from parts instead).
"""

from __future__ import annotations

import contextlib
import time
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from gome_core.config import ResolvedConfig, resolve
from gome_core.engine.core import Engine, RunOutcome
from gome_core.engine.rundir import RunDirectory
from gome_core.errors import UsageError
from gome_core.plugins import PluginRegistry, get_registry, notify_observers
from gome_core.types import Budget, CompetitionRef, Metric, RunInfo

__all__ = [
    "build_engine",
    "competition_ref",
    "grade_run",
    "open_competition",
    "private_paths",
    "resume_engine",
]


def open_competition(
    task: str, *, competitions_dirs: Sequence[str] = (), data_dir: str | None = None
) -> tuple[Any, Any]:
    """The store and the prepared competition ``task`` (prepared now if it is not yet)."""
    from gome_core.competitions import CompetitionStore

    store = CompetitionStore.default(list(competitions_dirs) or None, data_dir)
    competition = store.get(task)
    if not competition.is_prepared:
        competition = store.prepare(competition)
    return store, competition


def private_paths(competition: Any) -> list[Path]:
    """What a candidate must never read: the private answers and the raw data they come from."""
    return [Path(competition.private_dir), Path(competition.raw_dir)]


def competition_ref(competition: Any) -> CompetitionRef:
    """What the agent may see of a competition: its public side."""
    if competition.lower_is_better is None:
        raise UsageError(
            f"competition {competition.id}: the metric's direction is unknown (its leaderboard "
            f"could not be read). Check {competition.leaderboard_path}."
        )
    return CompetitionRef(
        id=competition.id,
        public_dir=competition.public_dir,
        description=competition.description,
        metric=Metric(competition.metric_name, lower_is_better=competition.lower_is_better),
        sample_submission=competition.sample_submission.name,
    )


def _budget(resolved: ResolvedConfig) -> Budget:
    b = resolved.config.budget
    return Budget(steps=b.steps, hours=b.hours, tokens=b.tokens, usd=b.usd)


def build_engine(
    resolved: ResolvedConfig,
    competition: CompetitionRef,
    *,
    run_dir: str | Path | None = None,
    on_event: Callable[[dict[str, Any]], None] | None = None,
    sources: dict[str, Any] | None = None,
    hidden: Sequence[str | Path] = (),
    _existing: RunDirectory | None = None,
) -> Engine:
    """An engine for a new run (or, with ``_existing``, for a resumed one)."""
    config = resolved.config
    registry: PluginRegistry = resolved.registry
    if config.optimizer is None:
        raise UsageError(
            "no optimizer is configured: pass --preset (see `gome presets`) or set one, e.g. "
            "--set optimizer=gome."
        )
    with contextlib.ExitStack() as undo:
        # The parts first, so that a missing key or an executor that cannot start stops the run
        # before anything is written; the LLM first, as the likeliest to fail.
        llm = config.llm.create(registry) if config.llm is not None else None
        if llm is not None:
            undo.callback(llm.close)
        executor = config.executor.create(registry)
        undo.callback(executor.close)
        optimizer = config.optimizer.create(registry)
        validators = [v.create(registry) for v in config.validators]
        if _existing is None:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            run_id = f"{competition.id}-{config.preset or 'custom'}-{stamp}"
            path = Path(run_dir or config.run_dir or Path("runs") / run_id)
            info_data = {
                "run_id": run_id,
                "competition": competition.id,
                "preset": config.preset,
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                **resolved.describe(),
                "competition_source": sources or {},
            }
            rundir = RunDirectory.create(path, info=info_data, config_toml=resolved.to_toml())
        else:
            rundir = _existing
            run_id = rundir.info()["run_id"]
        info = RunInfo(run_id, rundir.path, competition.id, config.preset, resolved.to_dict())
        engine = Engine(
            competition=competition,
            optimizer=optimizer,
            executor=executor,
            validators=validators,
            llm=llm,
            run_dir=rundir,
            info=info,
            budget=_budget(resolved),
            seed=config.seed,
            settings=config.engine,
            hooks=registry.manager.hook,
            on_event=on_event,
            hidden=[Path(p) for p in hidden],
        )
        undo.pop_all()  # the engine closes them from now on
    return engine


def resume_engine(
    path: str | Path,
    *,
    overrides: Sequence[str] = (),
    on_event: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[Engine, Any, Any]:
    """An engine that continues the run in ``path``; also returns its store and competition.

    ``overrides`` may change the budget (e.g. ``budget.steps=40`` to run longer); the run's
    ``config.toml`` keeps them, so a later resume goes on with them too.
    """
    rundir = RunDirectory.open(path)
    info = rundir.info()
    resolved = resolve(files=[rundir.config_path], overrides=overrides, registry=get_registry())
    if resolved.config.task not in (None, info["competition"]):
        raise UsageError(
            f"$.task: a resumed run stays on its competition ({info['competition']}); "
            f"start a new run for {resolved.config.task}."
        )
    sources = info.get("competition_source", {})
    store, competition = open_competition(
        info["competition"],
        competitions_dirs=sources.get("competitions_dirs", ()),
        data_dir=sources.get("data_dir"),
    )
    engine = build_engine(
        resolved,
        competition_ref(competition),
        on_event=on_event,
        hidden=private_paths(competition),
        _existing=rundir,
    )
    if overrides:  # kept once the run has replayed with them: a bad one leaves the file as it was
        engine.config_after_replay = resolved.to_toml()
    return engine, store, competition


def grade_run(
    store: Any, competition: Any, outcome: RunOutcome, rundir: Path, *, hooks: Any = None
) -> dict | None:
    """Grade the final submission when the competition has answers; write ``grading.json``.

    Then call the ``run_graded`` hook, with the run as its directory describes it, on ``hooks``
    (the run's engine's ``hooks``; by default the process-wide registry's); an observer's
    failure is logged, never raised.
    """
    if outcome.submission is None or not competition.answers.is_file():
        return None
    report = store.grade(competition.id, outcome.submission).to_dict()
    run_dir = RunDirectory(rundir)
    run_dir.write_json("grading.json", report)
    info = run_dir.info()
    with open(run_dir.config_path, "rb") as fh:
        config = tomllib.load(fh)
    run = RunInfo(info["run_id"], run_dir.path, info["competition"], info.get("preset"), config)
    notify_observers(
        hooks if hooks is not None else get_registry().manager.hook,
        "run_graded",
        run=run,
        grading=dict(report),
    )
    return report
