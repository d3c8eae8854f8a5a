"""Generated programs, run for real on tiny data: they honour the candidate contract."""

from __future__ import annotations

import ast
import math

import pandas as pd
import pytest
from gome_offline.profile import profile_for
from gome_offline.spec import default_spec
from gome_offline.writer import torch_available, write_program

from gome_core import Candidate, ExecutionRequest, ResourceLimits

from .conftest import RUN_ENV, check_outputs, run_program

# (competition kind, edit of the default spec): every task type, every model family.
FAST = [
    ("binary", {}),
    ("multiclass-proba", {"model.family": "linear"}),
    ("regression", {"model.family": "random_forest", "features.log_target": True}),
    ("text", {}),
    ("images", {}),
]
SLOW = [
    ("binary-label", {"model.family": "knn"}),
    ("binary-logloss", {"ensemble.add": "linear", "ensemble.method": "stack"}),
    ("multiclass-label", {"model.family": "svm"}),
    ("regression-mae", {"model.family": "extra_trees", "features.encoding": "ordinal"}),
    ("binary", {"ensemble.members": ["random_forest", "linear"], "class_weight": "balanced"}),
    ("multiclass-proba", {"model.family": "hist_gbm", "ensemble.add": "svm"}),
    ("regression", {"ensemble.add": "linear", "ensemble.method": "stack"}),
    ("regression-mae", {"model.family": "svm", "sample_rows": 100}),
    (
        "binary",
        {
            "features.count_encoding": True,
            "features.interactions": True,
            "features.missing_indicators": True,
            "features.impute": "constant",
            "features.date_parts": False,
            "early_stopping": True,
        },
    ),
    (
        "text",
        {
            "model.family": "hist_gbm",
            "features.text_char": True,
            "features.text_ngrams": 2,
            "features.text_stats": True,
            "features.text_svd": 8,
        },
    ),
    ("images", {"model.family": "extra_trees", "features.image_size": 4}),
    ("images", {"features.image": "none"}),
    ("parquet", {"model.family": "linear", "features.interactions": True}),
]


def _program(competition, edit):
    profile = profile_for(competition)
    spec = default_spec(profile).apply(edit, profile)
    return profile, spec, write_program(spec, profile)


def _check_run(competition, edit, tmp_path, *, debug):
    profile, spec, code = _program(competition, edit)
    proc = run_program(code, competition.public_dir, tmp_path / "ws", debug=debug)
    assert proc.returncode == 0, proc.stderr[-3000:]
    scores = check_outputs(tmp_path / "ws", competition)
    metric = competition.metric.name
    assert all(math.isfinite(row[metric]) for row in scores.values())
    assert len(scores) == len(spec.members) + 1  # one row per model plus the ensemble
    assert "[fold 1/" in proc.stdout and f"valid {metric}=" in proc.stdout
    folds = 2 if debug else spec.cv_folds
    assert f"[fold {folds}/{folds}]" in proc.stdout
    submission = pd.read_csv(tmp_path / "ws" / "submission" / "submission.csv")
    sample = pd.read_csv(competition.public_dir / "sample_submission.csv")
    assert list(submission["id"]) == list(sample["id"])
    if profile.output == "proba":
        values = submission[list(profile.targets)].to_numpy()
        assert ((values > 0) & (values < 1)).all()
        if profile.class_columns:
            assert abs(values.sum(axis=1) - 1).max() < 1e-6
    elif profile.output == "label":
        assert set(submission[profile.target]) <= set(profile.classes)
    else:
        assert (submission[profile.target] >= 0).all()
    return scores


@pytest.mark.parametrize(("kind", "edit"), FAST, ids=[f"{k}-{i}" for i, (k, _) in enumerate(FAST)])
def test_programs_honour_the_contract(make_competition, tmp_path, kind, edit):
    _check_run(make_competition(kind), edit, tmp_path, debug=False)


@pytest.mark.parametrize(
    "kind",
    [
        "binary",
        "images",
        pytest.param("multiclass-proba", marks=pytest.mark.slow),
        pytest.param("text", marks=pytest.mark.slow),
    ],
)
def test_debug_runs_write_every_output(make_competition, tmp_path, kind):
    _check_run(make_competition(kind), {}, tmp_path, debug=True)


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "edit"), SLOW, ids=[f"{k}-{i}" for i, (k, _) in enumerate(SLOW)])
def test_more_families_and_features(make_competition, tmp_path, kind, edit):
    _check_run(make_competition(kind), edit, tmp_path, debug=False)


@pytest.mark.slow
@pytest.mark.skipif(not torch_available(), reason="torch is not installed")
@pytest.mark.parametrize("debug", [True, False])
def test_cnn_on_images(make_competition, tmp_path, debug):
    edit = {"model.family": "cnn", "model.params.epochs": 3, "cv_folds": 3}
    scores = _check_run(make_competition("images"), edit, tmp_path, debug=debug)
    assert "cnn" in scores


@pytest.mark.slow
@pytest.mark.gpu
def test_the_cnn_trains_on_the_gpu_its_executor_leases(make_competition, cuda_executor):
    competition = make_competition("images")
    edit = {"model.family": "cnn", "model.params.epochs": 3, "cv_folds": 3}
    _, _, code = _program(competition, edit)
    request = ExecutionRequest(
        Candidate.from_code("cnn", code),
        input_dir=competition.public_dir,
        env={**RUN_ENV, "GOME_DEBUG": "0"},
        limits=ResourceLimits(timeout_s=240),
    )
    result = cuda_executor.run(request)
    assert result.ok, result.stderr_tail
    assert "cnn epoch 3/3 on cuda" in result.stdout_tail
    assert result.gpu_devices and result.gpu_peak_memory_mb
    assert "scores.csv" in result.produced


def test_cnn_needs_torch_and_images(make_competition):
    competition = make_competition("binary")
    _, _, code = _program(competition, {"model.family": "cnn"})
    assert "SmallCNN" not in code and "HistGradientBoosting" in code


@pytest.mark.slow
def test_another_seed_revalidates_on_another_split(make_competition, tmp_path):
    competition = make_competition("binary")
    _, _, code = _program(competition, {"model.family": "linear"})
    first = run_program(code, competition.public_dir, tmp_path / "a", seed=0)
    second = run_program(code, competition.public_dir, tmp_path / "b", seed=1)
    assert first.returncode == second.returncode == 0
    metric = competition.metric.name
    a = check_outputs(tmp_path / "a", competition)["ensemble"][metric]
    b = check_outputs(tmp_path / "b", competition)["ensemble"][metric]
    assert a != b


def test_programs_are_readable_and_honest(make_competition):
    competition = make_competition("multiclass-proba")
    _, spec, code = _program(competition, {"ensemble.add": "random_forest"})
    tree = ast.parse(code)
    doc = ast.get_docstring(tree)
    assert doc and "Multi-class classification of `vote`" in doc and "GOME_DEBUG" in doc
    functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert {"main", "make_features", "make_preprocessor", "score", "write_submission"} <= functions
    assert all(
        ast.get_docstring(n)
        for n in tree.body
        if isinstance(n, ast.FunctionDef) and n.name in ("validate", "fit", "make_features")
    )
    # Reads only ./input/; the sample submission for its layout only.
    assert 'INPUT = Path("input")' in code and "private" not in code and "answers" not in code
    assert "sample[[ID]]" in code and "sample[SUBMISSION_COLUMNS]" not in code
    # Only the code this spec needs: no text or image sections for a tabular task.
    assert "TfidfVectorizer" not in code and "load_images" not in code
    assert write_program(spec, profile_for(competition)) == code  # deterministic


def test_unknown_metrics_get_a_stand_in(make_competition, tmp_path):
    from gome_core import CompetitionRef, Metric

    base = make_competition("binary")
    competition = CompetitionRef(
        id="odd", public_dir=base.public_dir, description="", metric=Metric("gini-ish", False)
    )
    profile = profile_for(competition)
    code = write_program(default_spec(profile), profile)
    assert "stands in" in code and "roc_auc_score" in code
    proc = run_program(code, competition.public_dir, tmp_path / "ws", debug=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    check_outputs(tmp_path / "ws", competition)
