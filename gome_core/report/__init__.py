"""Run reports: one self-contained HTML page per run directory (``gome report RUN_DIR``).

The page shows the trace trees or search tree (nodes coloured by outcome), the validation score
per trace over the steps, each step's diagnosis, validator verdicts, code diff and output, LLM
usage and cost, the final choice with its re-validation, and the grading. It embeds its CSS, script
and charts (inline SVG), so it opens from disk with no network. Built from the journal alone (plus
the files beside it), it works for finished, running and interrupted runs alike.

    from gome_core.report import write_report
    path = write_report("runs/my-run")          # runs/my-run/report.html
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from gome_core.report.model import RunView, Step, load_run
from gome_core.report.render import render

__all__ = ["RunView", "Step", "load_run", "render", "render_report", "write_report"]

#: The report's file name inside the run directory when no output is given.
DEFAULT_NAME = "report.html"


def render_report(run_dir: str | Path) -> str:
    """The HTML report of the run in ``run_dir``. Raises ``UsageError`` if it is no run."""
    return render(load_run(run_dir))


def write_report(run_dir: str | Path, output: str | Path | None = None) -> Path:
    """Write the report of ``run_dir`` to ``output`` (default ``RUN_DIR/report.html``),
    atomically, and return its path."""
    html = render_report(run_dir)
    path = Path(output) if output is not None else Path(run_dir) / DEFAULT_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(html)
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide the page from a web server or a colleague
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
