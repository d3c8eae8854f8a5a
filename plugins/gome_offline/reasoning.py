"""Structured reasoning, rule-based: problems -> one hypothesis each -> five scores -> selection.

This is the offline stand-in for Gome's LLM reasoning step. Rules read real
:class:`~gome_offline.signals.Signals` and the :class:`~gome_offline.profile.DataProfile`:

* **scenario** rules (weighted up early in a trace): skewed target, unused text, high-cardinality
  categoricals, missing values, class imbalance, images as raw pixels, model family choice;
* **feedback** rules (weighted up later): train/validation gap (over-fitting), too small a gap
  (under-fitting), fold-score spread, a stalled trend, run time near the time-out, the latest
  failure (time-out, out of memory, an exception type), a weak ensemble member, changes accepted
  in other traces, the ensemble stage.

Each rule yields :class:`Idea` s: a :class:`~gome_core.Problem` and one decisive hypothesis with
its machine-readable edit. :func:`reason` scores them on alignment, impact, novelty (a repeat of
a tried idea, or of a sibling trace's, finished or in flight, scores 1), feasibility (predicted
run time against the time-out) and risk/reward, keeps the top k and selects one: the best with
probability ``skill`` (never a sibling's idea while another is left, first drafts aside: they are
spread by trace), else a random plausible one.
"""

from __future__ import annotations

import math
import random
import re
import statistics
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import attrs
from attrs import field, frozen

from gome_core.types import (
    Direction,
    Hypothesis,
    HypothesisScores,
    MemoryEntry,
    Metric,
    Problem,
)
from gome_offline.profile import DataProfile
from gome_offline.signals import ModelScore, Signals, edit_signature
from gome_offline.spec import (
    ModelSpec,
    PipelineSpec,
    SpecError,
    a,
    cheaper,
    robust,
    smaller,
)
from gome_offline.writer import torch_available

__all__ = ["Idea", "reason", "relative_cost", "rng_for", "unstructured"]

#: Relative train/validation gap above which a model is called over-fitted.
OVERFIT_GAP = 0.1
#: Relative gap below which it is called under-fitted (it fits training rows no better).
UNDERFIT_GAP = 0.02


@frozen
class Idea:
    """A problem and the one change that answers it, with the rule's own judgement (1-10)."""

    problem: Problem
    statement: str
    component: str
    edit: dict[str, Any] = field(converter=dict)
    alignment: float = 6.0
    impact: float = 5.0
    risk_reward: float = 5.0
    phase: str = "scenario"  # scenario | feedback | both
    why: str = ""
    #: A first pipeline: kept even when it is the default spec itself (a draft changes nothing).
    start: bool = False


def rng_for(seed: int, trace: int, step: int, salt: str = "") -> random.Random:
    """The reproducible random source of one reasoning step (never the global one)."""
    return random.Random(f"gome-offline:{seed}:{trace}:{step}:{salt}")


# --------------------------------------------------------------------------- cost model


def relative_cost(spec: PipelineSpec, profile: DataProfile) -> float:
    """A rough cost of a full run of ``spec`` (arbitrary units: ratios are what matter)."""
    rows = min(profile.rows, spec.sample_rows or profile.rows)
    classes = max(1, len(profile.classes)) if profile.task == "multiclass" else 1
    width = 1.0 + (20.0 if profile.text and spec.features.text == "tfidf" else 0.0)
    if profile.image is not None and spec.features.image == "pixels":
        side = spec.features.image_size
        pixels = side * side * profile.image.channels if side else profile.image.pixels
        width += pixels / 100
    total = 0.0
    for model in spec.members:
        p = model.params
        fit_rows = min(rows, p.get("max_rows") or rows)
        if model.family == "linear":
            cost = fit_rows * width * 0.5
        elif model.family in ("random_forest", "extra_trees"):
            factor = 1.0 if model.family == "random_forest" else 0.6
            cost = fit_rows * math.log2(fit_rows + 2) * p["n_estimators"] / 8 * factor * width
        elif model.family == "hist_gbm":
            cost = (fit_rows + 20_000) * p["max_iter"] / 8 * classes * (1 + width / 20)
        elif model.family == "knn":
            cost = fit_rows * rows / 500 * (1 + width / 10)
        elif model.family == "svm":
            cost = fit_rows**2 * width / 50
        else:  # cnn
            cost = fit_rows * p["epochs"] * p["channels"] * width / 4
        total += cost
    if spec.features.text_char:
        total *= 1.6
    if spec.features.interactions:
        total *= 1.3
    return total * (spec.cv_folds + 1) + rows * 2


# --------------------------------------------------------------------------- helpers


def _gap(score: ModelScore | None, lower_is_better: bool) -> float | None:
    """Relative gap between the training and the validation score (>0: fits train better)."""
    if score is None or score.valid is None or score.train is None:
        return None
    valid, train = score.valid, score.train
    if lower_is_better:
        return (valid - train) / max(abs(valid), 1e-12)
    return (train - valid) / max(abs(train), 1e-12)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def _families(profile: DataProfile) -> list[tuple[str, float, str]]:
    """(family, expected impact 1-10, why) of the families that suit the data, best first."""
    rows = profile.rows
    options: list[tuple[str, float, str]] = []
    if profile.text:
        options += [
            ("linear", 7, "sparse TF-IDF features suit linear models best"),
            ("hist_gbm", 4, "boosting on SVD components of the text catches interactions"),
        ]
    if profile.image is not None:
        if torch_available():
            options.append(("cnn", 8, "a CNN uses the images' spatial structure"))
        options += [
            (
                "svm",
                7 if rows <= 20_000 else 4,
                "an RBF kernel on pixels is strong on small image sets",
            ),
            ("knn", 5, "nearest neighbours on pixels are a cheap, different view"),
            ("extra_trees", 5, "randomised trees on pixels are robust and fast"),
        ]
    if not profile.text and profile.image is None:
        options += [
            ("hist_gbm", 7, "boosted trees handle mixed tabular features and interactions"),
            ("random_forest", 6, "bagged trees are stable on small or noisy tables"),
            ("extra_trees", 5, "extremely randomised trees add variance reduction"),
            ("linear", 4 if len(profile.numeric) > 3 else 3, "a linear model generalises smoothly"),
        ]
        if rows <= 5_000:
            options.append(("svm", 5, "a kernel model is competitive on small standardised tables"))
        if rows <= 20_000:
            options.append(("knn", 3, "nearest neighbours give a very different inductive bias"))
    return sorted(options, key=lambda o: -o[1])


def _other_families(
    profile: DataProfile, spec: PipelineSpec, sig: Signals | None = None, key: str = ""
) -> list[tuple[str, float, str]]:
    """Families not in ``spec``, best first; with ``sig``, those whose ``{key: family}`` edit
    was already tried (or is a sibling's) come last."""
    options = [o for o in _families(profile) if o[0] not in spec.families]
    if sig is None:
        return options
    tried = {
        _family_of(h.edit.get(key))
        for h in (*sig.tried, *sig.siblings)
        if key in h.edit and len(h.edit) <= 2
    }
    return sorted(options, key=lambda o: o[0] in tried)


def _family_of(value: Any) -> str:
    return str(value.get("family")) if isinstance(value, Mapping) else str(value)


def _params_text(edit: Mapping[str, Any]) -> str:
    """``max_leaf_nodes=15, min_samples_leaf=40`` for an edit of model parameters."""
    return ", ".join(
        f"{k.rsplit('.', 1)[-1]}={v:g}" if isinstance(v, float) else f"{k.rsplit('.', 1)[-1]}={v}"
        for k, v in edit.items()
    )


def _regularised(model: ModelSpec) -> tuple[dict[str, Any], str]:
    p = model.params
    key = "model.params."
    if model.family == "hist_gbm":
        edit = {
            key + "max_leaf_nodes": max(7, p["max_leaf_nodes"] // 2),
            key + "min_samples_leaf": min(200, p["min_samples_leaf"] * 2),
            key + "l2_regularization": max(1.0, p["l2_regularization"] * 3),
            key + "learning_rate": max(0.02, round(p["learning_rate"] / 2, 4)),
        }
        return edit, "smaller trees, more samples per leaf, L2 and a lower learning rate"
    if model.family in ("random_forest", "extra_trees"):
        return (
            {
                key + "min_samples_leaf": max(3, p["min_samples_leaf"] * 2),
                key + "max_features": 0.5,
            },
            "more samples per leaf and fewer features per split",
        )
    if model.family == "linear":
        return {key + "C": p["C"] / 4, key + "alpha": p["alpha"] * 4}, "4x stronger L2 penalty"
    if model.family == "knn":
        return {key + "n_neighbors": min(100, p["n_neighbors"] * 2)}, "twice as many neighbours"
    if model.family == "svm":
        return {key + "C": p["C"] / 3}, "a 3x smaller C (a smoother boundary)"
    return {key + "epochs": max(2, p["epochs"] // 2)}, "half as many epochs"


def _capacity(model: ModelSpec) -> tuple[dict[str, Any], str]:
    p = model.params
    key = "model.params."
    if model.family == "hist_gbm":
        return (
            {
                key + "max_iter": min(2000, p["max_iter"] * 2),
                key + "max_leaf_nodes": min(127, p["max_leaf_nodes"] * 2),
            },
            "twice the boosting rounds and larger trees",
        )
    if model.family in ("random_forest", "extra_trees"):
        return (
            {
                key + "min_samples_leaf": 1,
                key + "max_depth": None,
                key + "n_estimators": min(1000, p["n_estimators"] * 2),
            },
            "fully grown trees and twice as many of them",
        )
    if model.family == "linear":
        return {key + "C": p["C"] * 4, key + "alpha": p["alpha"] / 4}, "a 4x weaker L2 penalty"
    if model.family == "knn":
        return {key + "n_neighbors": max(3, p["n_neighbors"] // 2)}, "half as many neighbours"
    if model.family == "svm":
        return {key + "C": p["C"] * 3}, "a 3x larger C"
    return {key + "epochs": min(40, p["epochs"] * 2)}, "twice as many epochs"


# --------------------------------------------------------------------------- the rules


def _scenario(profile: DataProfile, spec: PipelineSpec, sig: Signals) -> Iterator[Idea]:
    f = spec.features
    metric = profile.metric.canonical
    if sig.best is None:
        for family, impact, why in _families(profile)[:5]:
            yield Idea(
                Problem(
                    f"No validated solution yet; {why}",
                    reasoning=f"Profile: {profile.summary()}.",
                    category="model",
                    expected_impact="a first validated score",
                ),
                f"Start from {a(family)} on the profiled features.",
                "model",
                {"model.family": family},
                alignment=7,
                impact=impact,
                risk_reward=6,
                why=why,
                start=True,
            )
    if (
        not profile.is_classification
        and profile.target_min is not None
        and profile.target_min >= 0
        and not f.log_target
        and (metric == "rmsle" or abs(profile.target_skew or 0) > 1)
    ):
        on_log_scale = metric == "rmsle"
        yield Idea(
            Problem(
                f"The target `{profile.target}` is skewed (skew {_fmt(profile.target_skew)})"
                + (" and the metric is computed on a log scale" if on_log_scale else ""),
                reasoning="Squared-error training on the raw scale is dominated by the largest "
                "values" + ("; RMSLE scores relative errors" if on_log_scale else ""),
                category="data",
                expected_impact="large" if on_log_scale else "moderate",
            ),
            "Train on log1p(target) and invert predictions with expm1.",
            "features",
            {"features.log_target": True},
            alignment=9 if on_log_scale else 7,
            impact=8 if on_log_scale else (6 if abs(profile.target_skew or 0) > 2 else 4),
            risk_reward=8 if on_log_scale else 5,
        )
    if profile.text and f.text == "none":
        yield Idea(
            Problem(
                f"Text column(s) {', '.join(profile.text)} are not used",
                reasoning="Free text usually carries most of the signal when present",
                category="features",
                expected_impact="large",
            ),
            "Add TF-IDF features of the text columns.",
            "features",
            {"features.text": "tfidf"},
            alignment=9,
            impact=8,
            risk_reward=8,
        )
    high = profile.high_cardinality(f.max_onehot if f.encoding == "onehot" else 10)
    if high and not f.count_encoding:
        yield Idea(
            Problem(
                f"High-cardinality categoricals ({', '.join(high[:3])}) are ordinal-encoded "
                "as arbitrary codes",
                reasoning="Arbitrary codes carry no order; value frequencies are a denser signal",
                category="features",
                expected_impact="small to moderate",
            ),
            "Add frequency (count) encodings of the categorical columns.",
            "features",
            {"features.count_encoding": True},
            alignment=7,
            impact=4,
            risk_reward=6,
        )
    missing = [c for c in profile.with_missing(0.05) if c in profile.numeric]
    if missing and not f.missing_indicators:
        yield Idea(
            Problem(
                f"Numeric columns with missing values ({', '.join(missing[:3])}) are imputed "
                "silently",
                reasoning="Whether a value is missing is often informative in itself",
                category="data",
                expected_impact="small",
            ),
            "Add a missing-value indicator column for each numeric column with gaps.",
            "features",
            {"features.missing_indicators": True},
            alignment=6,
            impact=3,
            risk_reward=6,
        )
    minority = profile.minority_share
    if minority is not None and minority < 0.2 and spec.class_weight is None:
        impact = {"f1": 6, "accuracy": 3, "roc_auc": 4, "log_loss": 2}.get(metric or "", 3)
        yield Idea(
            Problem(
                f"Classes are imbalanced (smallest class {minority:.1%} of rows)",
                reasoning="Unweighted losses under-fit the rare class"
                + (
                    "; reweighting distorts calibrated probabilities"
                    if metric == "log_loss"
                    else ""
                ),
                category="data",
                expected_impact="small" if impact <= 3 else "moderate",
            ),
            "Weight classes inversely to their frequency (class_weight=balanced).",
            "model",
            {"class_weight": "balanced"},
            alignment=7,
            impact=impact,
            risk_reward=3 if metric == "log_loss" else 5,
        )
    # (A first pipeline's CNN is one of the start ideas above.)
    if (
        sig.best is not None
        and profile.image is not None
        and "cnn" not in spec.families
        and torch_available()
    ):
        yield Idea(
            Problem(
                f"Images ({profile.image.width}x{profile.image.height}) are modelled as "
                f"independent raw pixels by {a(spec.model.family)}",
                reasoning="Pixel models ignore locality and translation invariance",
                category="model",
                expected_impact="large",
            ),
            "Train a small CNN on the images (3-fold validation to stay fast).",
            "model",
            {"model.family": "cnn", "cv_folds": 3},
            alignment=8,
            impact=8,
            risk_reward=6,
        )
    if (
        profile.image is not None
        and spec.model.family in ("hist_gbm", "random_forest", "extra_trees")
        and f.image_size is None
        and max(profile.image.width, profile.image.height) > 16
    ):
        yield Idea(
            Problem(
                f"Tree models see {profile.image.pixels} raw pixel features",
                reasoning="Most pixels are redundant; trees split better on fewer, smoother ones",
                category="features",
                expected_impact="moderate, and a faster run",
            ),
            "Downsample the images to 16x16 before using pixels as features.",
            "features",
            {"features.image_size": 16},
            alignment=6,
            impact=5,
            risk_reward=6,
        )
    if profile.dates and not f.date_parts:
        yield Idea(
            Problem(
                f"Date columns ({', '.join(profile.dates)}) are dropped",
                category="features",
                expected_impact="moderate",
            ),
            "Expand date columns into year, month, day and weekday.",
            "features",
            {"features.date_parts": True},
            alignment=7,
            impact=5,
            risk_reward=6,
        )
    if spec.model.family == "linear" and not f.interactions and len(profile.numeric) >= 2:
        if not profile.text and profile.image is None:
            yield Idea(
                Problem(
                    "A linear model cannot represent interactions between numeric features",
                    category="features",
                    expected_impact="moderate",
                ),
                "Add pairwise products of the numeric features.",
                "features",
                {"features.interactions": True},
                alignment=6,
                impact=4,
                risk_reward=5,
            )
    if spec.model.family in ("linear", "knn", "svm") and not f.scale and profile.image is None:
        yield Idea(
            Problem(
                f"{a(spec.model.family).capitalize()} sees unscaled numeric features",
                category="features",
                expected_impact="moderate",
            ),
            "Standardise the numeric features.",
            "features",
            {"features.scale": True},
            alignment=8,
            impact=5,
            risk_reward=7,
        )
    if profile.text and f.text == "tfidf":
        if f.text_ngrams == 1:
            yield Idea(
                Problem(
                    "Unigram TF-IDF misses negations and short phrases",
                    category="features",
                    expected_impact="small to moderate",
                ),
                "Use word 1-2-grams in the TF-IDF features.",
                "features",
                {"features.text_ngrams": 2, "features.text_max_features": 50_000},
                alignment=7,
                impact=5,
                risk_reward=6,
                phase="both",
            )
        if not f.text_char:
            yield Idea(
                Problem(
                    "Word features miss spelling variants and morphology",
                    category="features",
                    expected_impact="small to moderate",
                ),
                "Add character 2-5-gram TF-IDF features.",
                "features",
                {"features.text_char": True},
                alignment=7,
                impact=7,
                risk_reward=6,
                phase="both",
            )
        if spec.model.family == "linear" and spec.model.params["C"] <= 1.0:
            yield Idea(
                Problem(
                    f"The TF-IDF model is strongly penalised (C={spec.model.params['C']:g})",
                    reasoning="Many weak, sparse text features need a weak L2 penalty",
                    category="model",
                    expected_impact="small to moderate",
                ),
                f"Weaken the L2 penalty of the linear model: C={spec.model.params['C'] * 4:g}.",
                "model",
                {"model.params.C": spec.model.params["C"] * 4},
                alignment=6,
                impact=5,
                risk_reward=6,
                phase="both",
            )


def _failure_ideas(profile: DataProfile, spec: PipelineSpec, sig: Signals) -> Iterator[Idea]:
    failure = sig.failure
    timeout = sig.timeout_s
    if failure is not None and failure.kind in ("timeout", "oom"):
        failed = failure.spec or spec
        if failure.kind == "timeout":
            target = cheaper(failed, profile)
            problem = Problem(
                f"The last candidate ({failure.node_id}) ran past the {timeout:.0f}s time-out",
                reasoning=f"Its pipeline ({failed.describe()}) is too slow for the budget",
                category="time",
                expected_impact="a run that finishes at all",
                critical=True,
            )
            statement = "Retry that pipeline at lower cost: fewer folds, fewer trees/rows."
        else:
            target = smaller(failed, profile)
            problem = Problem(
                f"The last candidate ({failure.node_id}) ran out of memory",
                reasoning=f"Its pipeline ({failed.describe()}) holds too much in memory",
                category="memory",
                expected_impact="a run that finishes at all",
                critical=True,
            )
            statement = (
                "Retry that pipeline with a smaller footprint: ordinal encoding, fewer text "
                "features, smaller images, fewer rows."
            )
        yield Idea(
            problem,
            statement,
            "workflow",
            spec.diff(target),
            alignment=9,
            impact=7,
            risk_reward=6,
            phase="feedback",
        )
    elif failure is not None and failure.kind == "error":
        message = f"{failure.error_type}: {failure.message}".strip(": ")
        low = message.lower()
        if "nan" in low or "missing" in low or "infinity" in low:
            edit: dict[str, Any] = {
                "features.impute": "median",
                "features.missing_indicators": True,
            }
            statement = "Impute every numeric column (median) and flag missing values."
        elif "string" in low or "dtype" in low or "convert" in low or "categor" in low:
            edit = {"features.encoding": "ordinal"}
            statement = "Encode every categorical column as ordinal codes (robust to new values)."
        elif "vocabulary" in low:
            edit = {"features.text_ngrams": 1, "features.text_char": False}
            statement = "Use plain word unigrams for the text columns."
        else:
            edit = spec.diff(robust(profile))
            statement = "Fall back to the robust configuration of the default model."
        yield Idea(
            Problem(
                f"The last candidate failed with {message or 'an error'}",
                reasoning="Persistent errors waste steps; remove their cause first",
                category="error",
                expected_impact="a valid run",
            ),
            statement,
            "workflow",
            edit,
            alignment=8,
            impact=4,
            risk_reward=5,
            phase="feedback",
        )
    if sig.wall_s is not None and sig.wall_s > 0.5 * timeout:
        yield Idea(
            Problem(
                f"The best run took {sig.wall_s:.0f}s of the {timeout:.0f}s time-out",
                reasoning="Any heavier change will time out; there is no headroom left",
                category="time",
                expected_impact="room for further steps",
                critical=True,
            ),
            "Make the pipeline cheaper: fewer folds, fewer trees or iterations, fewer rows.",
            "workflow",
            spec.diff(cheaper(spec, profile)),
            alignment=8,
            impact=5,
            risk_reward=6,
            phase="feedback",
        )


def _feedback(profile: DataProfile, spec: PipelineSpec, sig: Signals) -> Iterator[Idea]:
    lower = profile.metric.lower_is_better
    main = sig.main_score
    gap = _gap(main, lower)
    model = spec.model
    if main is not None and gap is not None and gap > OVERFIT_GAP:
        edit, how = _regularised(model)
        if model.family == "hist_gbm" and not spec.early_stopping:
            edit["early_stopping"] = True
        yield Idea(
            Problem(
                f"Over-fitting: validation {profile.metric.name} {_fmt(main.valid)} vs "
                f"{_fmt(main.train)} on training rows",
                reasoning=f"A relative gap of {gap:.0%} means the {model.name} memorises "
                "training rows",
                category="model",
                expected_impact="moderate" if gap < 0.3 else "large",
            ),
            f"Regularise the {model.name} ({how}): {_params_text(edit)}.",
            "model",
            edit,
            alignment=9,
            # Sparse TF-IDF models fit training rows almost perfectly at any sensible penalty:
            # their gap says little.
            impact=4 if profile.text and model.family == "linear" else 7 if gap > 0.2 else 6,
            risk_reward=6,
            phase="feedback",
        )
    elif main is not None and gap is not None and gap < UNDERFIT_GAP:
        edit, how = _capacity(model)
        yield Idea(
            Problem(
                f"Under-fitting: the {model.name} scores {_fmt(main.train)} on training rows, "
                f"barely better than {_fmt(main.valid)} on validation",
                reasoning="It lacks capacity to fit the signal it sees",
                category="model",
                expected_impact="moderate",
            ),
            f"Give the {model.name} more capacity ({how}): {_params_text(edit)}.",
            "model",
            edit,
            alignment=8,
            impact=5,
            risk_reward=5,
            phase="feedback",
        )
    yield from _ensemble_ideas(profile, spec, sig)
    if sig.best is not None and (sig.stalled >= 2 or (sig.gains and max(sig.gains[-2:]) < 1e-4)):
        options = _other_families(profile, spec, sig, "model.family")
        if options:
            family, impact, why = options[0]
            yield Idea(
                Problem(
                    f"Progress has stalled ({sig.stalled} rejected steps since the last gain)",
                    reasoning="Small edits of the same model no longer help; change the model",
                    category="model",
                    expected_impact="uncertain, possibly large",
                ),
                f"Switch the main model to {a(family)}.",
                "model",
                {"model.family": family},
                alignment=8,
                impact=max(5, impact - 1),
                risk_reward=5,
                phase="feedback",
                why=why,
            )
    if sig.best is None:
        return
    p = model.params
    if model.family == "hist_gbm" and p["learning_rate"] > 0.03:
        edit = {
            "model.params.learning_rate": round(p["learning_rate"] / 2, 4),
            "model.params.max_iter": min(2000, p["max_iter"] * 2),
            "early_stopping": True,
        }
        yield Idea(
            Problem(
                f"Boosting uses a coarse learning rate ({p['learning_rate']})",
                reasoning="Smaller steps with more rounds usually generalise better",
                category="model",
                expected_impact="small to moderate",
            ),
            f"Halve the learning rate, double the rounds, stop early: {_params_text(edit)}.",
            "model",
            edit,
            alignment=6,
            impact=5,
            risk_reward=6,
            phase="both",
        )
    if model.family in ("random_forest", "extra_trees") and p["n_estimators"] < 500:
        yield Idea(
            Problem(
                f"The forest has only {p['n_estimators']} trees",
                category="model",
                expected_impact="small",
            ),
            f"Grow {p['n_estimators'] * 2} trees instead of {p['n_estimators']}.",
            "model",
            {"model.params.n_estimators": p["n_estimators"] * 2},
            alignment=5,
            impact=3,
            risk_reward=7,
            phase="both",
        )
    trees = {"hist_gbm", "random_forest", "extra_trees"}
    if set(spec.families) <= trees and spec.features.encoding == "onehot" and profile.categorical:
        yield Idea(
            Problem(
                "Tree models split one-hot columns one category at a time",
                reasoning="Ordinal codes let a single split separate groups of categories",
                category="features",
                expected_impact="small",
            ),
            "Encode categorical columns as ordinal codes for the tree models.",
            "features",
            {"features.encoding": "ordinal"},
            alignment=5,
            impact=3,
            risk_reward=6,
            phase="both",
        )


def _ensemble_ideas(profile: DataProfile, spec: PipelineSpec, sig: Signals) -> Iterator[Idea]:
    """Blend in a different family (fold spread, late stage), drop a weak member, stack."""
    if sig.best is None:
        return
    lower = profile.metric.lower_is_better
    options = _other_families(profile, spec, sig, "ensemble.add")
    folds = sig.folds.get(spec.model.family) or next(iter(sig.folds.values()), ())
    spread = statistics.pstdev(folds) if len(folds) >= 3 else 0.0
    centre = abs(statistics.fmean(folds)) if len(folds) >= 3 else 1.0
    if options and len(spec.members) < 3:
        family, _, why = options[0]
        late = sig.stage == "ensemble"
        if spread / (centre or 1.0) > 0.03:
            problem = Problem(
                f"Fold scores vary widely (std {spread:.4g} around {statistics.fmean(folds):.4g})",
                reasoning="High variance between folds: a single model is unstable",
                category="validation",
                expected_impact="moderate",
            )
            alignment, impact = 8, 5
        else:
            problem = Problem(
                f"The solution relies on {' + '.join(spec.families)} alone",
                reasoning=f"Blending a different family averages out errors: {why}",
                category="ensemble",
                expected_impact="small to moderate",
            )
            alignment, impact = (9, 5) if late else (5, 4)
        yield Idea(
            problem,
            f"Blend in {a(family)} (mean of the models' predictions).",
            "ensemble",
            {"ensemble.add": family},
            alignment=alignment,
            impact=impact,
            risk_reward=7,
            phase="both",
            why=why,
        )
    singles = {k: v.valid for k, v in sig.scores.items() if k != "ensemble" and v.valid is not None}
    blended = sig.scores.get("ensemble")
    if len(spec.members) < 2 or len(singles) < 2 or blended is None or blended.valid is None:
        return
    ranked = sorted(singles, key=lambda k: singles[k], reverse=not lower)
    best_name, worst_name = ranked[0], ranked[-1]
    beaten = blended.valid > singles[best_name] if lower else blended.valid < singles[best_name]
    worst_family = re.sub(r"_\d+$", "", worst_name)  # program names: family, family_2
    if beaten and worst_family in [m.family for m in spec.ensemble]:
        yield Idea(
            Problem(
                f"The ensemble ({_fmt(blended.valid)}) is worse than its best member "
                f"{best_name} ({_fmt(singles[best_name])})",
                reasoning=f"The weak member {worst_name} ({_fmt(singles[worst_name])}) "
                "drags the mean down",
                category="ensemble",
                expected_impact="small to moderate",
            ),
            f"Drop {worst_name} from the ensemble.",
            "ensemble",
            {"ensemble.remove": worst_family},
            alignment=8,
            impact=5,
            risk_reward=7,
            phase="feedback",
        )
    elif spec.ensemble_method == "mean":
        yield Idea(
            Problem(
                "The ensemble weights its members equally",
                reasoning="Member scores differ: "
                + ", ".join(f"{k} {_fmt(v)}" for k, v in singles.items()),
                category="ensemble",
                expected_impact="small",
            ),
            "Stack the members with a linear model on their out-of-fold predictions.",
            "ensemble",
            {"ensemble.method": "stack"},
            alignment=6,
            impact=4,
            risk_reward=5,
            phase="feedback",
        )


# --------------------------------------------------------------------------- scoring


def _applies(spec: PipelineSpec, edit: dict[str, Any], profile: DataProfile) -> PipelineSpec | None:
    try:
        new = spec.apply(edit, profile)
    except SpecError:
        return None
    return None if new == spec else new


def _same(a: Mapping[str, Any], statement: str, h: Hypothesis) -> bool:
    return h.statement.strip().lower() == statement or (bool(h.edit) and dict(h.edit) == dict(a))


def _novelty(idea: Idea, sig: Signals) -> tuple[float, str]:
    """1 for a repeat (same statement or same edit), lower for close variants of tried ideas;
    a close variant of an accepted step scores higher (it continues a direction that worked)."""
    statement = idea.statement.strip().lower()
    signature = edit_signature(idea.edit)
    if any(_same(idea.edit, statement, h) for h in sig.tried):
        return 1.0, "already tried in this trace"
    if any(_same(idea.edit, statement, h) for h in sig.avoid):
        return 1.0, "a sibling trace already explores it"
    if any(_same(idea.edit, statement, h) for h in sig.pursuing):
        return 1.0, "a sibling trace is trying it now"

    def similar(h: Hypothesis) -> bool:
        """The same knobs (one edit's keys within the other's) turned the same way."""
        if not h.edit:
            return False
        mine, theirs = dict(signature), dict(edit_signature(h.edit))
        if not (mine.keys() <= theirs.keys() or theirs.keys() <= mine.keys()):
            return False
        return all(mine[k] == theirs[k] for k in mine.keys() & theirs.keys())

    if any(similar(h) for h in sig.succeeded):
        return 6.0, "a variant was accepted before: it continues a direction that worked"
    if any(similar(h) for h in sig.siblings):
        return 4.0, "a sibling trace explores a variant"
    if any(similar(h) for h in sig.tried):
        return 3.0, "a variant was tried and rejected"
    return 9.0, "not tried yet"


def _feasibility(new: PipelineSpec, sig: Signals, profile: DataProfile) -> tuple[float, str]:
    before = relative_cost(sig.spec, profile)
    after = relative_cost(new, profile)
    if sig.wall_s:
        predicted = sig.wall_s * after / max(before, 1e-9)
    else:  # no run yet: a rough absolute guess (1 unit ~ 2 microseconds on one core)
        predicted = after * 2e-6
    share = predicted / sig.timeout_s
    if share < 0.3:
        score = 9.0
    elif share < 0.6:
        score = 6.0
    elif share < 0.9:
        score = 3.0
    else:
        score = 1.0
    return score, f"predicted run ~{predicted:.0f}s of {sig.timeout_s:.0f}s"


def _clamp(value: float) -> float:
    return float(min(10.0, max(1.0, value)))


def _score(idea: Idea, new: PipelineSpec, sig: Signals, profile: DataProfile) -> Hypothesis:
    alignment, impact = idea.alignment, idea.impact
    if idea.phase == "scenario":
        alignment += 1 if sig.early else -1
    elif idea.phase == "feedback":
        alignment += -1 if sig.early and sig.best is None else 1
    if sig.stage == "ensemble" and idea.component == "model" and "model.family" in idea.edit:
        alignment -= 2  # late in the run, replacing the model is a gamble
    if sig.stage == "draft" and idea.component == "ensemble":
        alignment -= 1
    novelty, novelty_why = _novelty(idea, sig)
    if idea.problem.critical and novelty > 1:
        novelty = max(novelty, 6.0)  # a critical failure must be answered, by a variant too
    feasibility, feasibility_why = _feasibility(new, sig, profile)
    scores = HypothesisScores(
        alignment=_clamp(alignment),
        impact=_clamp(impact),
        novelty=_clamp(novelty),
        feasibility=_clamp(feasibility),
        risk_reward=_clamp(idea.risk_reward),
    )
    rationale = (
        f"alignment {scores.alignment:g}: {idea.phase} signal at the {sig.stage} stage; "
        f"impact {scores.impact:g}: {idea.problem.expected_impact or 'expected gain'}; "
        f"novelty {scores.novelty:g}: {novelty_why}; "
        f"feasibility {scores.feasibility:g}: {feasibility_why}; "
        f"risk/reward {scores.risk_reward:g}" + (f"; {idea.why}" if idea.why else "")
    )
    return Hypothesis(
        statement=idea.statement,
        component=idea.component,
        problem=idea.problem,
        scores=scores,
        rationale=rationale,
        edit=idea.edit,
    )


_ADOPTED = re.compile(r"^(?:Adopt from trace \d+: )+")


def _adoptions(
    cross_trace: Sequence[MemoryEntry], spec: PipelineSpec, profile: DataProfile, sig: Signals
) -> Iterator[Idea]:
    """Changes accepted in other traces that this trace's best does not have yet; the more the
    other trace's result beats this trace's best, the higher the expected impact."""
    metric = Metric(profile.metric.name, profile.metric.lower_is_better)
    seen: set[frozenset] = set()
    sign = 1.0 if metric.lower_is_better else -1.0
    ranked = sorted(
        cross_trace,
        key=lambda e: (e.score_after is None, sign * (e.score_after or 0.0)),
    )  # the best results elsewhere first
    for entry in ranked:
        # An adopted change keeps its own words when adopted again, not "Adopt from trace 0:
        # Adopt from trace 2: ...".
        statement = _ADOPTED.sub("", entry.hypothesis.statement)
        edit = dict(entry.hypothesis.edit)
        signature = edit_signature(edit)
        if not edit or signature in seen or _applies(spec, edit, profile) is None:
            continue
        seen.add(signature)
        ahead = sig.best_score is None or metric.better(entry.score_after, sig.best_score)
        yield Idea(
            Problem(
                f"A change accepted in trace {entry.trace} ({_fmt(entry.score_before)} -> "
                f"{_fmt(entry.score_after)}) is not used here",
                reasoning=statement,
                category=entry.hypothesis.problem.category
                if entry.hypothesis.problem
                else "general",
                expected_impact="proven elsewhere" if ahead else "it did not beat this trace there",
            ),
            f"Adopt from trace {entry.trace}: {statement}",
            entry.hypothesis.component,
            edit,
            alignment=8 if ahead else 5,
            impact=7 if ahead else 3,
            risk_reward=7 if ahead else 4,
            phase="both",
            why=f"accepted in trace {entry.trace}",
        )


def ideas_for(
    profile: DataProfile, sig: Signals, cross_trace: Sequence[MemoryEntry] = ()
) -> list[tuple[Idea, PipelineSpec]]:
    """Every applicable idea with the spec it leads to (ideas that change nothing are dropped;
    one idea per problem statement)."""
    spec = sig.spec
    found: list[tuple[Idea, PipelineSpec]] = []
    seen_problems: set[str] = set()
    seen_outcomes: set[str] = set()
    for source in (
        _failure_ideas(profile, spec, sig),
        _feedback(profile, spec, sig),
        _adoptions(cross_trace, spec, profile, sig),
        _scenario(profile, spec, sig),
    ):
        for idea in source:
            new = _applies(spec, idea.edit, profile)
            if new is None and idea.start:
                new = spec  # drafting the default pipeline is a start too
            if new is None or idea.problem.statement in seen_problems:
                continue
            outcome = new.to_json()  # two edits that build the same pipeline are one idea
            if outcome in seen_outcomes:
                continue
            seen_problems.add(idea.problem.statement)
            seen_outcomes.add(outcome)
            found.append((idea, new))
    return found


def _fallback(profile: DataProfile, sig: Signals) -> list[tuple[Idea, PipelineSpec]]:
    """When no rule fires (everything tried): widen validation or resize the main model."""
    spec = sig.spec
    candidates = [
        (
            {"cv_folds": min(10, spec.cv_folds * 2)},
            "Validate on twice as many folds (more rows per fit).",
        ),
        (_capacity(spec.model)[0], f"Give the {spec.model.name} more capacity."),
        (_regularised(spec.model)[0], f"Regularise the {spec.model.name} further."),
    ]
    out = []
    for edit, statement in candidates:
        new = _applies(spec, edit, profile)
        if new is not None:
            idea = Idea(
                Problem(
                    "No rule finds a clear weakness", category="general", expected_impact="small"
                ),
                statement,
                "workflow" if "cv_folds" in edit else "model",
                edit,
                alignment=4,
                impact=3,
                risk_reward=5,
                phase="both",
            )
            out.append((idea, new))
    return out


def _reproducible(sig: Signals) -> Signals:
    """``sig`` without the siblings' choices in flight for a trace's first draft: which of them
    are known then depends on which thread chose first, and a draft should depend only on the
    trace (parallel first drafts are spread by rank instead)."""
    if sig.best is None and not (sig.tried or sig.avoid) and sig.pursuing:
        return attrs.evolve(sig, pursuing=())
    return sig


def _a_siblings(h: Hypothesis, sig: Signals) -> bool:
    statement = h.statement.strip().lower()
    return any(_same(h.edit, statement, other) for other in sig.siblings)


def reason(
    profile: DataProfile,
    sig: Signals,
    rng: random.Random,
    *,
    skill: float = 1.0,
    top_k: int = 5,
    cross_trace: Sequence[MemoryEntry] = (),
) -> Direction:
    """Problems -> scored hypotheses -> the top ``top_k`` -> one chosen (see module doc)."""
    sig = _reproducible(sig)
    found = ideas_for(profile, sig, cross_trace) or _fallback(profile, sig)
    if not found:
        chosen = Hypothesis(
            statement="Re-run the current pipeline unchanged (no applicable change found).",
            component="workflow",
        )
        return Direction(chosen=chosen, selection="nothing applicable")
    scored = [_score(idea, new, sig, profile) for idea, new in found]
    # Exact ties are broken by the step's own random draw, so that parallel traces in the same
    # state do not all walk the same way (an LLM's sampling would separate them too).
    ties = {h.statement: rng.random() for h in sorted(scored, key=lambda h: h.statement)}
    ranked = sorted(scored, key=lambda h: (-round(h.score or 0.0, 6), ties[h.statement]))
    top = ranked[: max(1, top_k)]
    critical = [h.problem for h in ranked if h.problem is not None and h.problem.critical]
    problems: list[Problem] = []
    for problem in [*critical, *(h.problem for h in top if h.problem is not None)]:
        if problem not in problems:
            problems.append(problem)
    draw = rng.random()
    if draw < skill:
        if sig.best is None and sig.trace and not (sig.siblings or sig.tried):
            # Parallel traces start before any sibling's idea is known: spread them over the
            # best starting points rather than all taking the same one.
            index = sig.trace % len(top)
            rank = f"rank {index + 1} for trace {sig.trace}, " if index else ""
        else:
            # Diversification is a rule, not a preference: a sibling's idea is not taken while
            # another is left, however well it scores.
            index = next((i for i, h in enumerate(top) if not _a_siblings(h, sig)), 0)
            rank = f"rank {index + 1}, above it siblings' ideas, " if index else ""
        chosen = top[index]
        selection = f"best-scored of top-{len(top)} ({rank}skill {skill:.2f}, draw {draw:.2f})"
    else:
        plausible = [
            h
            for h in top
            if h.scores is not None and h.scores.novelty > 1 and h.scores.feasibility > 2
        ] or top
        chosen = rng.choice(plausible)
        selection = (
            f"random plausible of {len(plausible)} in top-{len(top)} "
            f"(skill {skill:.2f}, draw {draw:.2f})"
        )
    return Direction(chosen=chosen, problems=problems[:5], candidates=top, selection=selection)


def unstructured(
    profile: DataProfile, sig: Signals, rng: random.Random, cross_trace: Sequence[MemoryEntry] = ()
) -> Direction:
    """The "no structured reasoning" ablation: one unscored idea, drawn at random."""
    sig = _reproducible(sig)
    found = ideas_for(profile, sig, cross_trace) or _fallback(profile, sig)
    if not found:
        chosen = Hypothesis(
            statement="Re-run the current pipeline unchanged.", component="workflow"
        )
        return Direction(chosen=chosen, selection="unscored single idea")
    fresh = [
        (idea, new)
        for idea, new in found
        if not any(h.edit and dict(h.edit) == idea.edit for h in (*sig.tried, *sig.siblings))
    ]
    idea, _ = rng.choice(fresh or found)
    chosen = Hypothesis(statement=idea.statement, component=idea.component, edit=idea.edit)
    return Direction(chosen=chosen, selection="unscored single idea")
