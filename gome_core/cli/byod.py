"""Bring your own data on the command line: the options of ``gome run --data`` and
``gome tasks init``, and the functions that turn them into a competition.

``gome run --data DIR --goal TEXT`` writes the inferred competition into the run directory
(``RUN_DIR/competition/<id>/``, data in ``RUN_DIR/competition-data/``) before the run starts;
``gome run --competition-from PATH`` rebuilds one written before (after the user edited its
config.yaml or description.md) into a new run directory; ``gome tasks init DIR --goal TEXT``
writes one into a competitions directory without running an agent.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from gome_core.errors import UsageError

__all__ = [
    "COMPETITION_DIR",
    "COMPETITION_DATA_DIR",
    "byod_run_options",
    "competition_from_data",
    "competition_from_path",
    "default_run_dir",
    "inference_options",
    "init",
    "print_byod_summary",
    "resolve_byod",
]

F = TypeVar("F", bound=Callable[..., Any])

#: Where a run directory keeps the competition built from the user's data, and its data.
COMPETITION_DIR = "competition"
COMPETITION_DATA_DIR = "competition-data"
#: The keyword arguments of :func:`gome_core.byod.infer_task` set by :func:`inference_options`.
INFERENCE_KEYS = (
    "target",
    "metric",
    "id_column",
    "date_column",
    "task_type",
    "positive_class",
    "train_file",
    "test_file",
    "image_column",
    "holdout",
)


def inference_options(fn: F) -> F:
    """The options that override gome's guesses about a data folder."""
    options = [
        click.option("--target", help="The column to predict (default: inferred from --goal)."),
        click.option(
            "--metric",
            help="The metric: accuracy, f1, roc-auc, log-loss, multi-class-log-loss, rmse, "
            "rmsle, mae, r2 (default: by task type).",
        ),
        click.option(
            "--id",
            "id_column",
            metavar="COL|none",
            help="The id column ('none': gome numbers the rows).",
        ),
        click.option(
            "--date-column",
            metavar="COL|none",
            help="The date column to split by time ('none': a random split).",
        ),
        click.option(
            "--task-type",
            type=click.Choice(["binary", "multiclass", "regression", "forecasting"]),
            help="binary, multiclass, regression or forecasting (default: inferred).",
        ),
        click.option("--positive-class", help="The class scored as 1 in a binary task."),
        click.option("--train", "train_file", metavar="FILE", help="The training table."),
        click.option(
            "--test",
            "test_file",
            metavar="FILE|none",
            help="The test table ('none': ignore it and hold out training rows).",
        ),
        click.option("--image-column", help="The column naming each row's image file."),
        click.option(
            "--holdout",
            type=click.FloatRange(0, 0.9, min_open=True),
            help="Share of training rows held out as the graded test set (default 0.2).",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def byod_run_options(fn: F) -> F:
    """``--data``, ``--goal``, ``--competition-from`` and the inference options, for
    ``gome run``; hand the collected values to :func:`resolve_byod`."""
    fn = inference_options(fn)
    fn = click.option(
        "--competition-from",
        type=click.Path(exists=True, path_type=Path),
        help="Rerun a competition gome wrote from your data (RUN_DIR/competition/<id>, or a "
        "folder written by `gome tasks init`), after editing its config.yaml or description.",
    )(fn)
    fn = click.option("--goal", help='With --data: what to predict, e.g. "predict churn".')(fn)
    fn = click.option(
        "--data",
        "data",
        type=click.Path(exists=True, file_okay=False, path_type=Path),
        help="A folder with train.csv (and maybe test.csv, Parquet, images): gome turns it "
        "into a competition. Needs --goal.",
    )(fn)
    return fn


def _echo_guesses(inferred: Any, header: str) -> None:
    click.echo(header, err=True)
    for line in inferred.report():
        click.echo(line, err=True)


def _inference_kwargs(options: dict[str, Any]) -> dict[str, Any]:
    return {k: options[k] for k in INFERENCE_KEYS if options.get(k) is not None}


def competition_from_data(
    data_dir: str | Path,
    goal: str,
    target: str | None = None,
    metric: str | None = None,
    id_column: str | None = None,
    workdir: str | Path = ".",
    *,
    competition_id: str | None = None,
    **options: Any,
) -> tuple[Path, Path, str]:
    """Infer a competition from ``data_dir`` and ``goal``, print each guess with its override
    (on stderr), write it under ``workdir`` and prepare it there.

    Returns ``(competitions_dir, data_dir, competition_id)`` for
    :func:`gome_core.engine.launch.open_competition`: the competition is
    ``<workdir>/competition/<id>/``, its data ``<workdir>/competition-data/<id>/``. ``options``
    are the other keyword arguments of :func:`gome_core.byod.infer_task`.
    """
    from gome_core.byod import infer_task

    inferred = infer_task(
        data_dir, goal, target=target, metric=metric, id_column=id_column, **options
    )
    _echo_guesses(inferred, f"gome read {inferred.data_dir} as follows:")
    return _write(inferred, Path(workdir), competition_id)


def _write(
    inferred: Any, workdir: Path, competition_id: str | None, description: str | None = None
) -> tuple[Path, Path, str]:
    from gome_core.byod import write_competition

    competitions = workdir / COMPETITION_DIR
    data = workdir / COMPETITION_DATA_DIR
    folder = write_competition(
        inferred, competitions, data, competition_id, description=description
    )
    click.echo(
        f"competition written to {folder} (edit it, then rerun with --competition-from {folder})",
        err=True,
    )
    _echo_baselines(folder, inferred.metric, err=True)
    return folder.parent, data.resolve(), folder.name


def _echo_baselines(folder: Path, metric: str, *, err: bool) -> None:
    from gome_core.byod.report import read_sidecar

    for b in (read_sidecar(folder) or {}).get("baselines", []):
        score = f"not scored: {b['reason']}" if b["score"] is None else b["score"]
        click.echo(f"  baseline {b['name']} ({b['model']}): {metric} {score}", err=err)


def _find_competition(path: Path) -> Path:
    """The competition folder ``path`` names: itself, or the only one inside it (a run
    directory, its ``competition/`` folder, or a competitions directory)."""
    path = path.expanduser().resolve()
    if (path / "config.yaml").is_file():
        return path
    found = sorted({p.parent for p in (*path.glob("*/config.yaml"), *path.glob("*/*/config.yaml"))})
    if len(found) == 1:
        return found[0]
    if not found:
        raise UsageError(
            f"--competition-from {path}: no config.yaml there. Give the competition's folder "
            f"(RUN_DIR/{COMPETITION_DIR}/<id>, or the one `gome tasks init` wrote)."
        )
    raise UsageError(
        f"--competition-from {path}: it holds several competitions "
        f"({', '.join(str(f) for f in found)}); give one of them."
    )


def competition_from_path(path: str | Path, workdir: str | Path) -> tuple[Path, Path, str]:
    """Rebuild a competition gome wrote from a data folder, from its (possibly edited)
    config.yaml, into ``workdir``; same return value as :func:`competition_from_data`.

    The ``byod`` settings are checked again as if given as options; a description.md the user
    edited is kept, an unedited one is written afresh.
    """
    import hashlib
    import json

    from gome_core.byod import ByodError, infer_task
    from gome_core.byod.build import read_config
    from gome_core.byod.write import SIDECAR

    folder = _find_competition(Path(path))
    config_path = folder / "config.yaml"
    config, s = read_config(config_path)
    test_file = s.get("test") or (None if s.get("test_image_folder") else "none")
    try:
        inferred = infer_task(
            s["source"],
            s["goal"],
            target=s.get("target"),
            metric=str(config["grader"]["name"]),
            id_column=s.get("id_column") or "none",
            date_column=s.get("date_column") or "none",
            task_type=s.get("task_type"),
            positive_class=s.get("positive_class"),
            train_file=s.get("train"),
            test_file=test_file,
            image_column=s.get("image_column") if s.get("image_layout") == "table" else None,
            holdout=float(s.get("holdout", 0.2)),
            seed=int(s.get("seed", 0)),
        )
    except (ByodError, KeyError, TypeError, ValueError) as exc:
        raise ByodError(
            f"{config_path}: the `byod` settings do not fit the data: {exc} (each option "
            f"named there is a key of the `byod` section: --target is `target`, --id is "
            f"`id_column`, ...; --metric is `grader.name`)."
        ) from exc
    description = None
    text = (folder / "description.md").read_text(encoding="utf-8")
    sidecar = folder / SIDECAR
    generated = (
        json.loads(sidecar.read_text())["generated_description_sha256"]
        if sidecar.is_file()
        else None
    )
    if hashlib.sha256(text.encode()).hexdigest() != generated:
        description = text
        click.echo(f"keeping your edited {folder / 'description.md'}", err=True)
    _echo_guesses(inferred, f"gome rebuilds {config.get('id')} from {config_path}:")
    return _write(inferred, Path(workdir), str(config.get("id") or folder.name), description)


def default_run_dir(competition_id: str, preset: str | None) -> Path:
    """``runs/<id>-<preset>-<timestamp>``, the run directory ``gome run`` picks by default."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{competition_id}-{preset or 'custom'}-{stamp}"


def resolve_byod(
    options: dict[str, Any], *, task: str | None, run_dir: str | Path | None, preset: str | None
) -> tuple[Path, Path, str, Path] | None:
    """For ``gome run``: None when neither ``--data`` nor ``--competition-from`` was given;
    else build the competition and return ``(competitions_dir, data_dir, competition_id,
    run_dir)``, where ``run_dir`` is ``run_dir`` or :func:`default_run_dir`. ``options`` holds
    the values of :func:`byod_run_options` (``data``, ``goal``, ``competition_from`` and the
    inference options)."""
    from gome_core.byod.write import competition_id_for

    data, source = options.get("data"), options.get("competition_from")
    overrides = _inference_kwargs(options)
    if data is None and source is None:
        given = [k for k in ("goal", *overrides) if options.get(k) is not None]
        if given:
            flag = {"id_column": "id", "train_file": "train", "test_file": "test"}.get(
                given[0], given[0].replace("_", "-")
            )
            raise UsageError(
                f"--{flag} only applies with --data DIR (a folder of data to turn into a "
                f"competition)."
            )
        return None
    if task is not None:
        raise UsageError(
            "give either --task (a competition) or --data / --competition-from (your data), "
            "not both."
        )
    if data is not None and source is not None:
        raise UsageError("give either --data or --competition-from, not both.")
    if run_dir is not None and (Path(run_dir) / "journal.jsonl").exists():
        raise UsageError(
            f"{run_dir} already holds a run. Continue it with `gome resume {run_dir}`, or "
            f"choose another --run-dir."
        )
    if source is not None:
        if overrides or options.get("goal"):
            raise UsageError(
                "--competition-from takes its settings from the competition's config.yaml: "
                "edit its `byod` section instead of passing options."
            )
        from gome_core.byod.build import read_config

        folder = _find_competition(Path(source))
        config, _ = read_config(folder / "config.yaml")
        cid = str(config.get("id") or folder.name)
        workdir = Path(run_dir) if run_dir else default_run_dir(cid, preset)
        competitions, data_dir, cid = competition_from_path(folder, workdir)
        return competitions, data_dir, cid, workdir
    if not options.get("goal"):
        raise UsageError('--data needs --goal: say what to predict, e.g. --goal "predict churn".')
    workdir = Path(run_dir) if run_dir else default_run_dir(competition_id_for(data), preset)
    competitions, data_dir, cid = competition_from_data(
        data, options["goal"], workdir=workdir, **overrides
    )
    return competitions, data_dir, cid, workdir


def print_byod_summary(
    competition: Any, grading: dict[str, Any] | None, validation: float | None
) -> bool:
    """Print the held-out score, the validation score and the baselines when ``competition``
    was built from the user's data; return whether it was (then print no medal line)."""
    from gome_core.byod.report import is_byod, summarize_run

    if not is_byod(competition):
        return False
    click.echo(summarize_run(competition, grading, validation))
    return True


@click.command("init")
@click.argument("data", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--goal", required=True, help='What to predict, e.g. "predict churn".')
@inference_options
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("competitions"),
    show_default=True,
    help="The competitions directory to write <id>/ into.",
)
@click.option("--name", help="The competition's id (default: from the folder's name).")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="GOME_DATA_DIR",
    show_envvar=True,
    help="Where to prepare the data: <data-dir>/<id>/{raw,prepared}. "
    "Default: $XDG_CACHE_HOME/gome/data (~/.cache/gome/data).",
)
def init(
    data: Path, goal: str, out: Path, name: str | None, data_dir: Path | None, **options: Any
) -> None:
    """Write a competition (MLE-bench layout) from a folder of data, without running an agent.

    Example: gome tasks init churn/ --goal "predict churn" --out competitions
    """
    from gome_core.byod import infer_task, write_competition
    from gome_core.competitions import default_data_dir

    inferred = infer_task(data, goal, **_inference_kwargs(options))
    _echo_guesses(inferred, f"gome read {inferred.data_dir} as follows:")
    prepared = data_dir or default_data_dir()
    folder = write_competition(inferred, out, prepared, name)

    click.echo(f"wrote {folder} (data prepared in {Path(prepared) / folder.name})")
    _echo_baselines(folder, inferred.metric, err=False)
    extra = f" --data-dir {data_dir}" if data_dir else ""
    click.echo(f"run an agent on it: gome run --task {folder.name} --competitions-dir {out}{extra}")
