"""``gome report``: a run directory as one self-contained HTML page."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

__all__ = ["report"]


@click.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the page (default RUN_DIR/report.html; '-' for stdout).",
)
def report(run_dir: Path, output: Path | None) -> None:
    """Write an HTML report of a run: trees, scores, diagnoses, diffs, outputs, costs, grading.

    The page is one file with no external resources: open it in any browser, offline.

    Example: gome report runs/penguins-mass-gome-20260101-120000
    """
    from gome_core.errors import UsageError
    from gome_core.report import render_report, write_report

    started = time.perf_counter()
    if output is not None and str(output) == "-":
        sys.stdout.write(render_report(run_dir))
        return
    try:
        path = write_report(run_dir, output)
    except (FileExistsError, NotADirectoryError, IsADirectoryError, PermissionError) as exc:
        where = exc.filename or output
        raise UsageError(f"cannot write the report to {output}: {where}: {exc.strerror}.") from None
    size = path.stat().st_size
    click.echo(
        f"report: {path} ({size / 1024:.0f} KiB, {time.perf_counter() - started:.2f} s)"
        f"\nopen it in a browser: {path.resolve().as_uri()}"
    )
