"""Writing an inferred task as a competition in MLE-bench's layout, prepared and with its
baselines' leaderboard.

::

    <competitions-dir>/<id>/
        config.yaml            MLE-bench's keys, awards_medals: false, and the `byod` section
        description.md         what the agent reads: the goal, the metric, the files
        prepare.py, grade.py   thin: they call gome_core.byod.build with config.yaml
        leaderboard.csv        the baselines, best first (gives the metric's direction)
        leaderboard_readme.md  what the baselines are, and that no medal is meant
        byod.json              the guesses, the baselines' scores, versions
    <data-dir>/<id>/raw, prepared/{public,private}
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path
from typing import Any

from gome_core.byod.baselines import baselines, leaderboard_rows, write_leaderboard
from gome_core.byod.errors import ByodError
from gome_core.byod.infer import InferredTask
from gome_core.logs import get_logger

__all__ = ["SIDECAR", "competition_id_for", "render_description", "write_competition"]

log = get_logger(__name__)

#: The file next to config.yaml recording how the competition was built.
SIDECAR = "byod.json"

_PREPARE_PY = '''"""Prepare {cid}: built by gome from your data.

The settings are in config.yaml (`byod`); edit them and prepare again to change the split.
"""

from pathlib import Path

from gome_core.byod.build import prepare_from_config

CONFIG = Path(__file__).with_name("config.yaml")


def prepare(raw: Path, public: Path, private: Path) -> None:
    prepare_from_config(CONFIG, raw=raw, public=public, private=private)
'''

_GRADE_PY = '''"""Grader of {cid}: config.yaml's metric (`grader.name`) on the answered rows."""

from pathlib import Path

from gome_core.byod.build import grade_from_config

CONFIG = Path(__file__).with_name("config.yaml")


def grade(submission, answers):
    return grade_from_config(CONFIG, submission, answers)
'''


def competition_id_for(data_dir: str | Path) -> str:
    """A competition id from a folder's name: lower case, letters, digits and dashes."""
    name = Path(data_dir).expanduser().resolve().name
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug or "my-data"


def _config_yaml(inferred: InferredTask, cid: str) -> str:
    import yaml

    config = {
        "id": cid,
        "name": f"{cid} (your data)",
        "competition_type": "simple",
        "awards_medals": False,
        "prizes": None,
        "description": "description.md",
        "dataset": {
            "answers": f"{cid}/prepared/private/test.csv",
            "sample_submission": f"{cid}/prepared/public/sample_submission.csv",
        },
        "grader": {"name": inferred.metric, "grade_fn": "grade.py:grade"},
        "preparer": "prepare.py:prepare",
        "byod": inferred.settings(),
    }
    head = (
        "# Written by gome from your data. No leaderboard of people exists, so no medals are\n"
        "# awarded (awards_medals: false); leaderboard.csv holds gome's baselines.\n"
        "# Edit `byod` (and grader.name, the metric) and run again with\n"
        "#   gome run --competition-from <this folder>\n"
    )
    return head + yaml.safe_dump(config, sort_keys=False, allow_unicode=True)


def render_description(inferred: InferredTask, cid: str) -> str:
    """The description.md an agent reads. It never names the source folder: the agent must not
    find the held-out answers there."""
    spec = inferred.metric_spec
    target, idc = inferred.target, inferred.public_id_column
    columns = spec.columns(target, inferred.classes)
    better = "Lower" if spec.lower_is_better else "Higher"
    if spec.output == "class-proba":
        what = "the probability of each class, one column per class"
        example = ",".join(f"{1 / len(columns):.3f}" for _ in columns)
    elif spec.output == "proba":
        what = f"the probability that `{target}` is 1"
        example = "0.5"
    elif spec.output == "label":
        what = f"`{target}`"
        example = inferred.classes[-1] if inferred.classes else "0"
    else:
        what, example = f"`{target}`", "0.0"
    lines = [
        f"# {cid}",
        "",
        "## Overview",
        "",
        f"Goal: {inferred.goal.rstrip('.')}.",
        "",
        f"This is a {_kind_text(inferred)} task on the column `{target}`. It was built by gome "
        "from a folder of data, so there is no leaderboard of people and no medals are awarded; "
        "the leaderboard holds two baselines (a dummy model and one standard scikit-learn "
        "model) for reference.",
        "",
        "## Evaluation",
        "",
        f"Submissions are scored on the **{spec.title}** (`{spec.name}`): {spec.formula}. "
        f"{better} is better.",
    ]
    if inferred.task_type == "binary":
        lines += [
            "",
            f"`{target}` is encoded as 1 for `{inferred.positive_class}` and 0 for the other "
            "value.",
        ]
    lines += [
        "",
        "### Submission file",
        "",
        f"For each `{idc}` in `test.csv`, predict {what}:",
        "",
        "```",
        ",".join([idc, *columns]),
        f"0,{example}",
        "...",
        "```",
        "",
        "## Data",
        "",
        f"- `train.csv` - the training rows, with `{target}`.",
        f"- `test.csv` - the rows to predict, without `{target}`; every row needs a prediction.",
        "- `sample_submission.csv` - a submission in the correct format.",
    ]
    if inferred.is_image:
        lines.append(
            f"- `train/<{idc}>.<ext>`, `test/<{idc}>.<ext>` - the images, one per row of "
            "train.csv and test.csv."
        )
    if inferred.date_column:
        lines += [
            "",
            f"The split is by time: the test rows are the latest by `{inferred.date_column}`, "
            "so validate on the latest training rows too.",
        ]
    if inferred.train_only:
        lines += [
            "",
            "Columns only in train.csv (not available for the test rows): "
            + ", ".join(f"`{c}`" for c in inferred.train_only)
            + ".",
        ]
    lines += ["", "## How gome read the data", ""]
    lines += [f"- {g.what}: {_shown(g.value)} ({g.why})" for g in inferred.guesses]
    lines += [f"- note: {n}" for n in inferred.notes]
    return "\n".join(lines) + "\n"


def _shown(value: Any) -> str:
    return "none" if value is None else str(value)


def _kind_text(inferred: InferredTask) -> str:
    return {
        "binary": "binary classification",
        "multiclass": f"multi-class classification ({len(inferred.classes)} classes)",
        "regression": "regression",
        "forecasting": "forecasting (regression split by time)",
    }[inferred.task_type]


def _readme(cid: str, inferred: InferredTask, rows: list[tuple[str, float]], scores: Any) -> str:
    spec = inferred.metric_spec
    lines = [
        f"# Leaderboard of {cid}: gome's baselines",
        "",
        "**These are baselines, not people.** The competition was built from your own data, "
        "so no medals are awarded (`awards_medals: false`); the rows below are what an "
        "agent's held-out score is compared with.",
        "",
        f"- Metric: {spec.name} ({'lower' if spec.lower_is_better else 'higher'} is better).",
        "- Each model is trained on the public train.csv and scored by this competition's "
        "grader on the private answers.",
        "",
        "| rank | model | score |",
        "|---|---|---|",
    ]
    lines += [f"| {i} | {name} | {score:.5f} |" for i, (name, score) in enumerate(rows, 1)]
    failed = [b for b in scores if b.score is None]
    if failed:
        lines += ["", "Baselines that could not be scored:"]
        lines += [f"- {b.name} ({b.model}): {b.reason}" for b in failed]
    return "\n".join(lines) + "\n"


def _versions() -> dict[str, str]:
    import importlib.metadata
    import platform

    out = {"python": platform.python_version()}
    for dist in ("gome", "numpy", "pandas", "scikit-learn"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def _fingerprint(settings: dict[str, Any], metric: str) -> str:
    """A hash of what decides the split and the grading: equal fingerprints, equal baselines."""
    text = json.dumps({"byod": settings, "metric": metric}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def write_competition(
    inferred: InferredTask,
    competitions_dir: str | Path,
    data_dir: str | Path,
    competition_id: str | None = None,
    *,
    description: str | None = None,
) -> Path:
    """Write ``<competitions_dir>/<id>/`` in MLE-bench's layout, prepare it into ``data_dir``
    (again, if it was prepared before), score the baselines and write the leaderboard; return
    the competition's folder. ``description`` replaces the generated description.md."""
    from gome_core.competitions import CompetitionStore

    cid = competition_id or competition_id_for(inferred.data_dir)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", cid):
        raise ByodError(f"competition id {cid!r}: use letters, digits, dots, dashes, underscores.")
    folder = Path(competitions_dir).expanduser().resolve() / cid
    folder.mkdir(parents=True, exist_ok=True)
    generated = render_description(inferred, cid)
    (folder / "config.yaml").write_text(_config_yaml(inferred, cid), encoding="utf-8")
    (folder / "description.md").write_text(description or generated, encoding="utf-8")
    (folder / "prepare.py").write_text(_PREPARE_PY.format(cid=cid), encoding="utf-8")
    (folder / "grade.py").write_text(_GRADE_PY.format(cid=cid), encoding="utf-8")
    for stale in ("leaderboard.csv", "leaderboard_readme.md", SIDECAR):
        (folder / stale).unlink(missing_ok=True)

    started = time.monotonic()
    store = CompetitionStore((folder.parent,), Path(data_dir).expanduser().resolve())
    competition = store.prepare(cid, force=True)
    scores = baselines(competition)
    rows = leaderboard_rows(scores, inferred.lower_is_better)
    write_leaderboard(folder / "leaderboard.csv", rows)
    (folder / "leaderboard_readme.md").write_text(
        _readme(cid, inferred, rows, scores), encoding="utf-8"
    )
    sidecar = {
        "competition_id": cid,
        "fingerprint": _fingerprint(inferred.settings(), inferred.metric),
        "generated_description_sha256": hashlib.sha256(generated.encode()).hexdigest(),
        "metric": inferred.metric,
        "lower_is_better": inferred.lower_is_better,
        "guesses": [
            {"what": g.what, "value": g.value, "why": g.why, "override": g.override_flag}
            for g in inferred.guesses
        ],
        "notes": list(inferred.notes),
        "baselines": [
            {"name": b.name, "model": b.model, "score": b.score, "reason": b.reason} for b in scores
        ],
        "held_out_rows": int(_graded_rows(competition, inferred.target)),
        "built": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "seconds": round(time.monotonic() - started, 2),
        "versions": _versions(),
    }
    (folder / SIDECAR).write_text(json.dumps(sidecar, indent=2, default=str) + "\n")
    log.info("wrote competition from data", competition=cid, path=str(folder))
    return folder


def _graded_rows(competition: Any, target: str) -> int:
    from gome_core.competitions.grading import load_answers

    return int(load_answers(competition)[target].notna().sum())
