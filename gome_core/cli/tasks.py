"""``gome tasks ...`` (list, show, prepare competitions) and ``gome grade ...``.

The competitions package (and through it pandas) is imported only when one of these commands
runs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from gome_core.cli.byod import init as byod_init
from gome_core.errors import UsageError

if TYPE_CHECKING:
    from gome_core.competitions import Competition, CompetitionStore, GradingReport

__all__ = ["grade", "tasks"]

F = TypeVar("F", bound=Callable[..., Any])


def store_options(fn: F) -> F:
    """``--competitions-dir`` (repeatable) and ``--data-dir``, with their environment variables."""
    fn = click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        envvar="GOME_DATA_DIR",
        show_envvar=True,
        help="Where competition data is prepared: <data-dir>/<id>/{raw,prepared}. "
        "Default: $XDG_CACHE_HOME/gome/data (~/.cache/gome/data).",
    )(fn)
    fn = click.option(
        "--competitions-dir",
        "competitions_dirs",
        type=click.Path(file_okay=False, path_type=Path),
        multiple=True,
        envvar="GOME_COMPETITIONS_DIR",
        show_envvar=True,
        help="A directory of competitions in MLE-bench's layout (e.g. a checkout's "
        "mlebench/competitions), searched before the bundled ones. Repeatable; the variable "
        "takes a path list.",
    )(fn)
    return fn


def _store(competitions_dirs: Sequence[Path], data_dir: Path | None) -> CompetitionStore:
    from gome_core.competitions import CompetitionStore

    return CompetitionStore.default(list(competitions_dirs) or None, data_dir)


def _direction(lower_is_better: bool | None) -> str:
    return {True: "lower", False: "higher", None: "?"}[lower_is_better]


def _summary(comp: Competition) -> dict[str, Any]:
    return {
        "id": comp.id,
        "name": comp.name,
        "metric": comp.metric_name,
        "lower_is_better": comp.lower_is_better,
        "prepared": comp.is_prepared,
        "bundled": comp.bundled,
        "competition_dir": str(comp.competition_dir),
        "public_dir": str(comp.public_dir),
    }


@click.group()
def tasks() -> None:
    """List, inspect and prepare competitions (MLE-bench layout)."""


tasks.add_command(byod_init)  # gome tasks init: a competition from your own data


@tasks.command("list")
@store_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_tasks(competitions_dirs: tuple[Path, ...], data_dir: Path | None, as_json: bool) -> None:
    """List every competition: bundled ones and those in --competitions-dir."""
    store = _store(competitions_dirs, data_dir)
    competitions, problems = store.scan()
    rows = [_summary(c) for c in competitions]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(title="competitions")
        table.add_column("id", no_wrap=True)
        table.add_column("name")
        table.add_column("metric", no_wrap=True)
        for column in ("better", "prepared", "source"):
            table.add_column(column)
        for comp, row in zip(competitions, rows, strict=True):
            table.add_row(
                row["id"],
                row["name"],
                row["metric"],
                _direction(row["lower_is_better"]),
                "yes" if row["prepared"] else "no",
                "bundled" if comp.bundled else str(comp.competition_dir.parent),
            )
        Console().print(table)
        click.echo(f"data directory: {store.data_dir}")
    for problem in problems:
        click.echo(click.style("skipped: ", fg="yellow") + str(problem), err=True)


@tasks.command("show")
@click.argument("competition_id")
@store_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def show_task(
    competition_id: str, competitions_dirs: tuple[Path, ...], data_dir: Path | None, as_json: bool
) -> None:
    """Show a competition: metric, paths, leaderboard thresholds and description."""
    from gome_core.competitions import CompetitionError, medal_thresholds, read_leaderboard_scores

    comp = _store(competitions_dirs, data_dir).get(competition_id)
    info = _summary(comp) | {
        "grade_fn": comp.grade_fn,
        "preparer": comp.preparer,
        "answers": str(comp.answers),
        "sample_submission": str(comp.sample_submission),
        "leaderboard": str(comp.leaderboard_path),
        "raw_dir": str(comp.raw_dir),
        "private_dir": str(comp.private_dir),
    }
    try:
        t = medal_thresholds(read_leaderboard_scores(comp.leaderboard_path))
        info["leaderboard_summary"] = {
            "teams": t.num_teams,
            "gold_threshold": t.gold,
            "silver_threshold": t.silver,
            "bronze_threshold": t.bronze,
            "median_threshold": t.median,
        }
    except CompetitionError as exc:
        info["leaderboard_summary"] = {"error": str(exc)}
    description = comp.description
    if as_json:
        click.echo(json.dumps(info | {"description": description}, indent=2))
        return
    from rich.console import Console
    from rich.markdown import Markdown
    from rich.table import Table

    table = Table(show_header=False, box=None, title=f"{comp.id}: {comp.name}")
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for key, value in info.items():
        if key == "leaderboard_summary":
            value = ", ".join(f"{k} {v}" for k, v in value.items())
        table.add_row(key, str(value))
    console = Console()
    console.print(table)
    console.print(Markdown(description))


@tasks.command("prepare")
@click.argument("competition_ids", nargs=-1)
@click.option("--all", "prepare_all", is_flag=True, help="Prepare every competition.")
@click.option("--force", is_flag=True, help="Prepare again even if already prepared.")
@store_options
def prepare_tasks(
    competition_ids: tuple[str, ...],
    prepare_all: bool,
    force: bool,
    competitions_dirs: tuple[Path, ...],
    data_dir: Path | None,
) -> None:
    """Prepare competitions' data: <data-dir>/<id>/prepared/{public,private}."""
    from gome_core.competitions import CompetitionError, PrepareError

    if bool(competition_ids) == prepare_all:
        which = "ids and --all were both given: choose one" if prepare_all else "which ones?"
        raise UsageError(
            f"{which} Name the competitions to prepare (`gome tasks prepare ID [ID ...]`) or "
            f"pass --all; `gome tasks list` shows the ids."
        )
    store = _store(competitions_dirs, data_dir)
    targets = store.list() if prepare_all else [store.get(i) for i in competition_ids]
    failures: list[str] = []
    for comp in targets:
        was_prepared = comp.is_prepared
        try:
            store.prepare(comp, force=force)
        except CompetitionError as exc:
            failures.append(f"{comp.id}: {exc}")
            click.echo(click.style("failed ", fg="red") + f"{comp.id}: {exc}", err=True)
            continue
        state = "already prepared" if was_prepared and not force else "prepared"
        click.echo(
            f"{click.style('ok', fg='green')} {comp.id}: {state} in {comp.public_dir.parent}"
        )
    if failures:
        raise PrepareError(
            f"{len(failures)} of {len(targets)} competitions failed to prepare: "
            + " | ".join(failures)
        )


def _print_report(report: GradingReport) -> None:
    from rich.console import Console
    from rich.table import Table

    data = report.to_dict()
    if report.valid_submission:
        medal = next(
            (m for m in ("gold", "silver", "bronze") if data[f"{m}_medal"]),
            "above median" if report.above_median else "no medal",
        )
        title = f"{report.competition_id}: score {report.score} ({medal})"
    else:
        title = f"{report.competition_id}: invalid submission"
    table = Table(show_header=False, box=None, title=title)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for key, value in data.items():
        if value is not None:
            table.add_row(key, str(value))
    Console().print(table)


@click.command()
@click.argument("submission", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--task", "competition_id", help="The competition the submission is for.")
@click.option(
    "--submissions",
    type=click.Path(dir_okay=False, path_type=Path),
    help='A JSONL file of {"competition_id": ..., "submission_path": ...} lines (MLE-bench\'s '
    "format) to grade together.",
)
@click.option(
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Where --submissions writes <timestamp>_grading_report.json.",
)
@store_options
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def grade(
    ctx: click.Context,
    submission: Path | None,
    competition_id: str | None,
    submissions: Path | None,
    output_dir: Path,
    competitions_dirs: tuple[Path, ...],
    data_dir: Path | None,
    as_json: bool,
) -> None:
    """Grade a submission CSV exactly as MLE-bench does: score, medals, above-median.

    \b
    gome grade submission.csv --task digits-8x8
    gome grade --submissions submissions.jsonl --output-dir reports/

    A single invalid submission is reported with its reason and exits with status 1.
    """
    from gome_core.competitions import grade_jsonl, grade_submission

    store = _store(competitions_dirs, data_dir)
    if submissions is not None:
        if submission is not None or competition_id is not None:
            raise UsageError(
                "--submissions grades the files its JSONL lines name; do not also give a "
                "SUBMISSION or --task."
            )
        summary, path = grade_jsonl(submissions, store, output_dir)
        if as_json:
            click.echo(json.dumps(summary, indent=2))
        else:
            totals = {k: v for k, v in summary.items() if k != "competition_reports"}
            for key, value in totals.items():
                click.echo(f"{key}: {value}")
        click.echo(f"report written to {path}", err=as_json)
        return
    if submission is None or competition_id is None:
        raise UsageError(
            "give a submission and its competition (`gome grade SUBMISSION.csv --task ID`), or "
            "a JSONL file of submissions (`gome grade --submissions FILE.jsonl`)."
        )
    report = grade_submission(submission, store.get(competition_id))
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        _print_report(report)
    if not report.valid_submission:
        ctx.exit(1)
