"""Tiny competitions in the bundled layout, and helpers to run generated programs for real."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from gome_core import Candidate, CompetitionRef, ExecutionResult, Metric, Node, RunContext
from gome_core.contract import check_submission, read_scores
from gome_core.executors.local import LocalExecutor, LocalExecutorConfig

#: The grader metric of each tiny competition (and whether lower is better).
METRICS = {
    "binary": ("roc-auc", False),
    "binary-label": ("accuracy", False),
    "binary-logloss": ("log-loss", True),
    "multiclass-proba": ("multi-class-log-loss", True),
    "multiclass-label": ("accuracy", False),
    "regression": ("rmsle", True),
    "regression-mae": ("mae", True),
    "text": ("roc-auc", False),
    "images": ("accuracy", False),
    "parquet": ("rmse", True),
}


def _write(public: Path, kind: str) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(7)
    n_train, n_test = 160, 40
    n = n_train + n_test
    ids = np.arange(n) * 3 + 1  # ids that are not row numbers
    x1, x2, x3 = rng.normal(size=n), rng.normal(size=n), rng.uniform(0, 5, size=n)
    colour = rng.choice(["red", "green", "blue"], size=n)
    city = np.array([f"city_{i}" for i in rng.integers(0, 40, size=n)])  # high cardinality
    frame = pd.DataFrame({"id": ids, "x1": x1, "x2": x2, "x3": x3, "colour": colour, "city": city})
    frame.loc[rng.random(n) < 0.15, "x2"] = np.nan  # missing values
    frame.loc[rng.random(n) < 0.05, "colour"] = np.nan
    frame["signup"] = pd.Timestamp("2020-01-01") + pd.to_timedelta(
        rng.integers(0, 900, size=n), unit="D"
    )
    frame["signup"] = frame["signup"].dt.strftime("%Y-%m-%d")
    logit = 1.5 * x1 - x3 / 2 + (colour == "red") * 1.0
    target: str
    sample_values: dict[str, object]
    if kind.startswith("binary"):
        target = "outcome"
        frame[target] = (logit + rng.normal(scale=0.7, size=n) > 0).astype(int)
        sample_values = {target: 0 if kind == "binary-label" else 0.5}
    elif kind.startswith("multiclass"):
        target = "vote"
        labels = np.array(["N", "U", "Y"])
        frame[target] = labels[np.digitize(logit + rng.normal(scale=0.5, size=n), [-1.0, 0.8])]
        if kind == "multiclass-proba":
            sample_values = {c: 1 / 3 for c in labels}
        else:
            sample_values = {target: "N"}
    elif kind.startswith("regression") or kind == "parquet":
        target = "price"
        # A positive, right-skewed target.
        frame[target] = np.round(np.exp(3 + 0.6 * x1 + 0.2 * x3 + rng.normal(scale=0.3, size=n)))
        sample_values = {target: 100}
    elif kind == "text":
        target = "fresh"
        good = ["wonderful", "moving", "sharp", "funny", "brilliant", "tender"]
        bad = ["dull", "tedious", "clumsy", "bland", "messy", "lifeless"]
        filler = ["the", "film", "story", "cast", "plot", "it", "is", "a", "and", "with"]
        labels = rng.integers(0, 2, size=n)
        texts = []
        for label in labels:
            words = list(rng.choice(filler, size=8))
            words += list(rng.choice(good if label else bad, size=2))
            words += list(rng.choice(good + bad, size=1))
            rng.shuffle(words)
            texts.append(" ".join(words).capitalize() + ".")
        frame = pd.DataFrame({"id": ids, "critic": rng.choice(["ann", "bob"], n), "text": texts})
        frame[target] = labels
        sample_values = {target: 0.5}
    elif kind == "images":
        from PIL import Image

        target = "label"
        labels = rng.integers(0, 3, size=n)
        frame = pd.DataFrame({"id": ids, "label": labels})
        for split, rows in (("train", slice(0, n_train)), ("test", slice(n_train, n))):
            folder = public / split
            folder.mkdir(parents=True)
            for image_id, label in zip(ids[rows], labels[rows], strict=True):
                pixels = rng.integers(0, 60, size=(8, 8))
                if label == 0:
                    pixels[:, :3] += 180  # a bright left band
                elif label == 1:
                    pixels[:3, :] += 180  # a bright top band
                else:
                    pixels[3:5, 3:5] += 190  # a bright centre
                Image.fromarray(pixels.clip(0, 255).astype("uint8"), mode="L").save(
                    folder / f"{image_id}.png"
                )
        sample_values = {target: 0}
    else:  # pragma: no cover - a typo in a test
        raise ValueError(kind)
    train, test = frame.iloc[:n_train], frame.iloc[n_train:].drop(columns=[target])
    sample = pd.DataFrame({"id": test["id"].to_numpy(), **sample_values})
    if kind == "parquet":
        train.to_parquet(public / "train.parquet", index=False)
        test.to_parquet(public / "test.parquet", index=False)
    else:
        train.to_csv(public / "train.csv", index=False)
        test.to_csv(public / "test.csv", index=False)
    sample.to_csv(public / "sample_submission.csv", index=False)
    (public / "description.md").write_text(f"A tiny {kind} competition for tests.\n")


def _parquet_ok() -> bool:
    import importlib.util

    return any(importlib.util.find_spec(m) for m in ("pyarrow", "fastparquet"))


@pytest.fixture
def make_competition(tmp_path: Path) -> Callable[[str], CompetitionRef]:
    """``make_competition(kind)`` -> a CompetitionRef whose public dir holds tiny data."""

    def make(kind: str) -> CompetitionRef:
        if kind == "parquet" and not _parquet_ok():
            pytest.skip("no parquet engine installed")
        public = tmp_path / kind / "public"
        public.mkdir(parents=True)
        _write(public, kind)
        name, lower = METRICS[kind]
        return CompetitionRef(
            id=f"tiny-{kind}",
            public_dir=public,
            description="tiny",
            metric=Metric(name, lower_is_better=lower),
        )

    return make


def context_for(
    competition: CompetitionRef, *, seed: int = 0, timeout_s: float = 600
) -> RunContext:
    """A run context whose executor says its time-out (the reasoning reads it)."""
    executor = LocalExecutor(LocalExecutorConfig(timeout_s=timeout_s))
    return RunContext(competition=competition, executor=executor, seed=seed)


#: Candidates run single-threaded: shared CPUs make spinning thread pools crawl.
RUN_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def run_program(
    code: str, public: Path, workdir: Path, *, debug: bool = False, seed: int = 0
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` as ``main.py`` in ``workdir`` with ``input/`` linked to ``public``."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "input").symlink_to(public.resolve(), target_is_directory=True)
    (workdir / "main.py").write_text(code)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GOME_")},
        **RUN_ENV,
        "GOME_DEBUG": "1" if debug else "0",
        "GOME_SEED": str(seed),
    }
    return subprocess.run(
        [sys.executable, "main.py"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


def check_outputs(workdir: Path, competition: CompetitionRef) -> dict[str, dict[str, float]]:
    """The contract, checked with the validators' own functions; returns the parsed scores."""
    metric = competition.metric.name
    problems = check_submission(
        workdir / "submission" / "submission.csv", competition.public_dir / "sample_submission.csv"
    )
    assert not problems, problems
    scores = read_scores(workdir / "scores.csv", metric)
    header = (workdir / "scores.csv").read_text().splitlines()[0]
    assert header == f"model,{metric},train_{metric}"
    assert "ensemble" in scores
    return scores


def node_from_run(
    candidate: Candidate,
    workdir: Path,
    proc: subprocess.CompletedProcess[str],
    competition: CompetitionRef,
    wall_s: float = 1.0,
) -> Node:
    """A node as the engine builds it from a real run: the full-run report carries the parsed
    score file in ``details["scores"]`` and the run itself."""
    from gome_core import ValidationReport

    metric = competition.metric.name
    result = ExecutionResult(
        exit_code=proc.returncode,
        wall_s=wall_s,
        stdout_tail=proc.stdout[-4000:],
        stderr_tail=proc.stderr[-4000:],
        workspace=workdir,
    )
    if proc.returncode != 0:
        report = ValidationReport(
            "full-run", False, ("exited with code 1",), level=2, result=result
        )
        return Node(candidate, result=result, reports=(report,))
    scores = read_scores(workdir / "scores.csv", metric)
    score = scores["ensemble"][metric]
    report = ValidationReport(
        "full-run", True, score=score, level=2, details={"scores": scores}, result=result
    )
    return Node(candidate, result=result, reports=(report,), score=score)
