"""The program writer: a :class:`PipelineSpec` and a :class:`DataProfile` become a ``main.py``.

The program is plain pandas / scikit-learn (plus torch for the CNN family), readable, with a
docstring saying what it does, and it honours the candidate contract:

* reads the competition's public files from ``./input/`` (the sample submission only for its
  layout: ids and columns), never anything else;
* ``GOME_DEBUG=1``: a quick run on a small sample of the training rows with two folds, which
  still writes every output; ``GOME_SEED`` (default 0) seeds the folds and the models;
* K-fold validation (stratified for classification) with the competition's metric, written to
  ``./scores.csv`` as ``model,<metric>,train_<metric>``: one row per model plus ``ensemble``;
* fits on all training rows and writes ``./submission/submission.csv`` in the sample
  submission's format; prints per-fold progress lines ``[fold i/k] model: valid <metric>=...``.

Only the code a spec needs is emitted (no dead branches for other tasks), so a program reads
like one a person would write for that competition.
"""

from __future__ import annotations

import importlib.util
import json
import textwrap
from typing import TYPE_CHECKING, Any

from gome_core.logs import get_logger
from gome_offline.spec import ModelSpec, PipelineSpec, a

if TYPE_CHECKING:
    from gome_offline.profile import DataProfile

__all__ = ["DEBUG_ROWS", "torch_available", "write_program"]

log = get_logger(__name__)

#: Training rows of a ``GOME_DEBUG=1`` run.
DEBUG_ROWS = 400


def torch_available() -> bool:
    """Whether torch can be imported here (checked without importing it)."""
    return importlib.util.find_spec("torch") is not None


def _block(text: str, **values: str) -> str:
    """``text`` dedented, with ``@NAME@`` placeholders replaced (braces stay Python's own)."""
    text = textwrap.dedent(text).strip("\n")
    for name, value in values.items():
        text = text.replace(f"@{name}@", value)
    return text + "\n"


# --------------------------------------------------------------------------- the metric


def _metric_code(profile: DataProfile) -> tuple[str, str, list[str]]:
    """(note, body of ``score(y, pred)``, imports) for the competition's metric."""
    metric = profile.metric
    canonical = metric.canonical
    note = ""
    if canonical is None or metric.family not in (None, _task_family(profile)):
        stand_in = _stand_in(profile)
        note = (
            f"# The metric {metric.name!r} is not one this writer knows: {stand_in} stands in "
            f"for it (same direction), so scores are comparable between candidates only.\n"
        )
        canonical = stand_in
    classification = profile.is_classification
    bodies = {
        "accuracy": (
            "return float(accuracy_score(y, pred.argmax(axis=1)))",
            ["from sklearn.metrics import accuracy_score"],
        ),
        "f1": (
            "average = 'binary' if len(CLASSES) == 2 else 'macro'\n"
            "return float(f1_score(y, pred.argmax(axis=1), average=average))",
            ["from sklearn.metrics import f1_score"],
        ),
        "log_loss": (
            "return float(log_loss(y, clip_probabilities(pred), labels=np.arange(len(CLASSES))))",
            ["from sklearn.metrics import log_loss"],
        ),
        "roc_auc": (
            "if len(CLASSES) == 2:\n"
            "    return float(roc_auc_score(y, pred[:, 1]))\n"
            "present = np.unique(y)  # one-vs-rest AUC over the classes of this fold\n"
            "scores = [roc_auc_score(y == k, pred[:, k]) for k in present]\n"
            "return float(np.mean(scores)) if len(present) > 1 else float('nan')",
            ["from sklearn.metrics import roc_auc_score"],
        ),
        "rmse": (
            "return float(np.sqrt(mean_squared_error(y, pred)))",
            ["from sklearn.metrics import mean_squared_error"],
        ),
        "mse": (
            "return float(mean_squared_error(y, pred))",
            ["from sklearn.metrics import mean_squared_error"],
        ),
        "rmsle": (
            "return float(np.sqrt(mean_squared_log_error(np.clip(y, 0, None), "
            "np.clip(pred, 0, None))))",
            ["from sklearn.metrics import mean_squared_log_error"],
        ),
        "mae": (
            "return float(mean_absolute_error(y, pred))",
            ["from sklearn.metrics import mean_absolute_error"],
        ),
        "r2": ("return float(r2_score(y, pred))", ["from sklearn.metrics import r2_score"]),
    }
    body, imports = bodies[canonical]
    if canonical == "roc_auc" and len(profile.classes) <= 2:
        body = "return float(roc_auc_score(y, pred[:, 1]))"
    what = (
        "encoded labels and class probabilities" if classification else "true and predicted values"
    )
    return note, f'"""The competition metric ({metric.name}) on {what}."""\n{body}', imports


def _task_family(profile: DataProfile) -> str:
    return "classification" if profile.is_classification else "regression"


def _stand_in(profile: DataProfile) -> str:
    lower = profile.metric.lower_is_better
    if profile.is_classification:
        if lower:
            return "log_loss"
        return "roc_auc" if profile.output == "proba" and profile.task == "binary" else "accuracy"
    return "rmse" if lower else "r2"


# --------------------------------------------------------------------------- models


def _py(value: Any) -> str:
    """A Python literal for ``value``, strings in double quotes (as the rest of the code)."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        items = ", ".join(_py(v) for v in value)
        return (
            f"[{items}]"
            if isinstance(value, list)
            else f"({items}{',' if len(value) == 1 else ''})"
        )
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_py(k)}: {_py(v)}" for k, v in value.items()) + "}"
    return repr(value)


def _kwargs(**params: Any) -> str:
    return ", ".join(f"{k}={_py(v)}" for k, v in params.items())


def _pack(items: list[str], width: int, indent: str) -> str:
    """``items`` joined by ", " into lines of at most ``width`` characters (items never split)."""
    lines, line = [], indent
    for i, item in enumerate(items):
        piece = item + ("," if i < len(items) - 1 else "")
        if line.strip() and len(line) + 1 + len(piece) > width:
            lines.append(line.rstrip())
            line = indent
        line += piece + " "
    lines.append(line.rstrip())
    return "\n".join(lines)


def _estimator(model: ModelSpec, spec: PipelineSpec, profile: DataProfile) -> tuple[str, str, set]:
    """(constructor expression, input kind, imports) of one model."""
    p = dict(model.params)
    cls = profile.is_classification
    weight = {"class_weight": spec.class_weight} if cls and spec.class_weight else {}
    family = model.family
    if family == "linear":
        if cls:
            expr = f"LogisticRegression({_kwargs(C=p['C'], max_iter=p['max_iter'], **weight)})"
            imports = {"from sklearn.linear_model import LogisticRegression"}
        else:
            expr = f"Ridge({_kwargs(alpha=p['alpha'])})"
            imports = {"from sklearn.linear_model import Ridge"}
        kind = "sparse"
    elif family in ("random_forest", "extra_trees"):
        name = ("RandomForest" if family == "random_forest" else "ExtraTrees") + (
            "Classifier" if cls else "Regressor"
        )
        args = _kwargs(
            n_estimators=p["n_estimators"],
            max_depth=p["max_depth"],
            min_samples_leaf=p["min_samples_leaf"],
            max_features=p["max_features"] if cls or p["max_features"] != "sqrt" else 1.0,
            **weight,
        )
        expr = f"{name}({args}, n_jobs=N_JOBS, random_state=SEED)"
        imports = {f"from sklearn.ensemble import {name}"}
        kind = "sparse"
    elif family == "hist_gbm":
        name = "HistGradientBoosting" + ("Classifier" if cls else "Regressor")
        args = _kwargs(
            learning_rate=p["learning_rate"],
            max_iter=p["max_iter"],
            max_leaf_nodes=p["max_leaf_nodes"],
            min_samples_leaf=p["min_samples_leaf"],
            l2_regularization=p["l2_regularization"],
            early_stopping=spec.early_stopping,
            **weight,
        )
        if spec.early_stopping:
            args += ", validation_fraction=0.1, n_iter_no_change=20"
        expr = f"{name}({args}, random_state=SEED)"
        imports = {f"from sklearn.ensemble import {name}"}
        kind = "dense"
    elif family == "knn":
        name = "KNeighbors" + ("Classifier" if cls else "Regressor")
        expr = f"{name}({_kwargs(n_neighbors=p['n_neighbors'], weights=p['weights'])})"
        imports = {f"from sklearn.neighbors import {name}"}
        kind = "sparse"
    elif family == "svm":
        if cls:
            expr = f"SVC({_kwargs(C=p['C'], gamma=p['gamma'], kernel=p['kernel'], **weight)})"
            imports = {"from sklearn.svm import SVC"}
            # Calibrated probabilities cost five more fits; label metrics need only votes.
            if (
                profile.output == "proba"
                or spec.ensemble_method == "stack"
                or len(spec.members) > 1
            ):
                expr = f"CalibratedClassifierCV({expr}, ensemble=False)"
                imports.add("from sklearn.calibration import CalibratedClassifierCV")
        else:
            expr = f"SVR({_kwargs(C=p['C'], gamma=p['gamma'], kernel=p['kernel'])})"
            imports = {"from sklearn.svm import SVR"}
        kind = "sparse"
    elif family == "cnn":
        args = _kwargs(
            epochs=p["epochs"], channels=p["channels"], lr=p["lr"], batch_size=p["batch_size"]
        )
        expr = f"SmallCNN({args}, seed=SEED)"
        imports = set()
        kind = "image"
    else:  # pragma: no cover - ModelSpec validates the family
        raise ValueError(family)
    if not cls and spec.features.log_target and _log_target_ok(profile):
        expr = f"TransformedTargetRegressor({expr}, func=np.log1p, inverse_func=np.expm1)"
        imports.add("from sklearn.compose import TransformedTargetRegressor")
    return expr, kind, imports


def _log_target_ok(profile: DataProfile) -> bool:
    return profile.target_min is not None and profile.target_min > -1


def _usable_members(spec: PipelineSpec, profile: DataProfile, images: bool) -> list[ModelSpec]:
    members = []
    for model in spec.members:
        if model.family == "cnn" and not (images and torch_available()):
            why = "torch is not installed" if images else "the competition has no image folders"
            log.warning("cnn family unavailable, using hist_gbm", reason=why)
            model = ModelSpec.of("hist_gbm", profile)
        if model not in members:
            members.append(model)
    return members


def _names(members: list[ModelSpec]) -> list[str]:
    names: list[str] = []
    for model in members:
        name, n = model.family, 2
        while name in names:
            name, n = f"{model.family}_{n}", n + 1
        names.append(name)
    return names


# --------------------------------------------------------------------------- sections


_HEADER = '''
"""@TITLE@

@SUMMARY@

Contract: reads the competition's files from ./input/ (read-only; the sample submission only for
its layout), writes ./scores.csv (the validation score of each model and of the ensemble, and
the score on training rows to show over-fitting) and ./submission/submission.csv (the sample
submission's format). GOME_DEBUG=1 runs quickly on @DEBUG_ROWS@ training rows with 2 folds;
GOME_SEED (default 0) seeds the validation split and the models.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

# Spinning OpenMP threads crawl on a shared, busy CPU (boosting can slow down a hundredfold):
# let them sleep while waiting. Must be set before numpy and scikit-learn load OpenMP.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import pandas as pd
'''

_SETTINGS = """
INPUT = Path("input")
SUBMISSION = Path("submission") / "submission.csv"
SCORES = Path("scores.csv")
DEBUG = os.environ.get("GOME_DEBUG", "0") == "1"
SEED = int(os.environ.get("GOME_SEED", "0"))
N_JOBS = int(os.environ.get("OMP_NUM_THREADS", "0")) or -1
DEBUG_ROWS = @DEBUG_ROWS@
TRAIN_SCORE_ROWS = 2000  # training rows scored per fold, to see over-fitting cheaply
EPS = 1e-6  # probabilities are kept in [EPS, 1 - EPS]: one confident mistake costs log(1/EPS)
"""

_READ = """
def read(name):
    path = INPUT / name
    if path.suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    return pd.read_csv(path, low_memory=False)
"""

_IMAGES = """
def load_images(folder, ids):
    \"\"\"Pixels of input/<folder>/<id>@EXT@ in [0, 1], one row per id, resized to IMAGE_SIZE.\"\"\"
    from PIL import Image

    rows = []
    for image_id in ids:
        with Image.open(INPUT / folder / f"{image_id}@EXT@") as image:
            image = image.convert(IMAGE_MODE)
            if IMAGE_SIZE:
                image = image.resize((IMAGE_SIZE, IMAGE_SIZE))
            rows.append(np.asarray(image, dtype=np.float32).reshape(-1) / 255.0)
    pixels = np.stack(rows)
    names = [f"img_{i}" for i in range(pixels.shape[1])]
    return pd.DataFrame(pixels, columns=names)
"""


def _make_features(profile: DataProfile, spec: PipelineSpec, cols: dict[str, list[str]]) -> str:
    f = spec.features
    lines = [
        "def make_features(train, test):",
        '    """Feature tables for train and test, built the same way (labels are not used)."""',
        "    tables = []",
        "    for frame in (train, test):",
        "        X = frame[FEATURES].copy()",
    ]
    if cols["onehot"] or cols["ordinal"]:
        lines += [
            "        for col in ONEHOT + ORDINAL:  # categories as strings, missing as its own",
            '            X[col] = frame[col].astype(str).where(frame[col].notna(), "missing")',
        ]
    if cols["text"]:
        lines += [
            "        for col in TEXT:",
            '            X[col] = frame[col].fillna("").astype(str)',
        ]
        if f.text_stats:
            lines += [
                '            X[col + "_chars"] = X[col].str.len()',
                '            X[col + "_words"] = X[col].str.split().str.len()',
            ]
    if cols["dates"]:
        lines += [
            "        for col in DATES:  # calendar parts; the raw date is dropped",
            '            when = pd.to_datetime(X.pop(col), errors="coerce", format="mixed")',
            '            for part in ("year", "month", "day", "day_of_week"):',
            '                X[f"{col}_{part}"] = getattr(when.dt, part).astype("float64")',
        ]
    lines.append("        tables.append(X.reset_index(drop=True))")
    if cols["count"]:
        lines += [
            "    for col in COUNT:  # how common each value is, over train and test together",
            "    " + "    counts = pd.concat([train[col], test[col]]).astype(str).value_counts()",
            "        for X, frame in zip(tables, (train, test)):",
            '            X[col + "_count"] = frame[col].astype(str).map(counts).to_numpy(float)',
        ]
    if cols["images"]:
        lines += [
            "    folders = (IMAGE_TRAIN_DIR, IMAGE_TEST_DIR)",
            "    for i, (frame, folder) in enumerate(zip((train, test), folders)):",
            "        pixels = load_images(folder, frame[ID])",
            "        tables[i] = pd.concat([tables[i], pixels], axis=1)",
        ]
    lines.append("    return tables")
    return "\n".join(lines) + "\n"


def _preprocessor(spec: PipelineSpec, cols: dict[str, list[str]], kinds: set[str]) -> str:
    f = spec.features
    numeric_steps = [
        "SimpleImputer("
        + (
            'strategy="constant", fill_value=0'
            if f.impute == "constant"
            else f"strategy={_py(f.impute)}"
        )
        + (", add_indicator=True" if f.missing_indicators else "")
        + ")"
    ]
    if f.scale:
        numeric_steps.append("StandardScaler()")
    lines = [
        "def make_preprocessor(kind, numeric):",
        '    """Columns -> model input. kind: "sparse" (linear, kernel and tree models), "dense"',
        '    (boosting: text is reduced by a truncated SVD) or "image" (the CNN: raw pixels)."""',
    ]
    if "image" in kinds:
        lines += [
            '    if kind == "image":',
            '        pixels = make_column_selector(pattern="^img_")',
            '        return ColumnTransformer([("pixels", "passthrough", pixels)])',
        ]
    lines.append(f'    parts = [("numeric", make_pipeline({", ".join(numeric_steps)}), numeric)]')
    if cols["interact"]:
        lines += [
            "    interactions = make_pipeline(",
            '        SimpleImputer(strategy="median"),',
            "        StandardScaler(),",
            "        PolynomialFeatures(2, interaction_only=True, include_bias=False),",
            "    )",
            '    parts.append(("interactions", interactions, INTERACT))',
        ]
    if cols["onehot"]:
        lines.append('    parts.append(("onehot", OneHotEncoder(handle_unknown="ignore"), ONEHOT))')
    if cols["ordinal"]:
        lines.append(
            '    ordinal = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)'
        )
        if f.scale:  # unscaled codes would dominate linear and kernel models
            lines.append("    ordinal = make_pipeline(ordinal, StandardScaler())")
        lines.append('    parts.append(("ordinal", ordinal, ORDINAL))')
    if cols["text"]:
        lines += [
            "    for col in TEXT:",
            '        parts.append((f"text_{col}", text_features(kind), col))',
        ]
    dense = "0.0" if kinds <= {"dense", "image"} else '0.0 if kind == "dense" else 0.3'
    lines.append(f"    return ColumnTransformer(parts, sparse_threshold={dense})")
    return "\n".join(lines) + "\n"


def _text_features(spec: PipelineSpec) -> str:
    f = spec.features
    word = (
        f"TfidfVectorizer(max_features={f.text_max_features}, ngram_range=(1, {f.text_ngrams}), "
        f"sublinear_tf=True)"
    )
    lines = [
        "class CappedSVD(TruncatedSVD):",
        '    """Truncated SVD that asks for fewer components than its input has columns."""',
        "",
        "    def fit_transform(self, X, y=None):",
        "        self.n_components = max(1, min(self.n_components, X.shape[1] - 1))",
        "        return super().fit_transform(X, y)",
        "",
        "",
        "def text_features(kind):",
        '    """TF-IDF of one text column (reduced to dense components for boosting)."""',
        f"    words = {word}",
    ]
    if f.text_char:
        lines += [
            "    chars = TfidfVectorizer(",
            '        analyzer="char_wb", ngram_range=(2, 5), max_features='
            f"{f.text_max_features}, sublinear_tf=True",
            "    )",
            "    vectors = make_union(words, chars)",
        ]
    else:
        lines.append("    vectors = words")
    lines += [
        '    if kind == "dense":',
        f"        return make_pipeline(vectors, CappedSVD({f.text_svd}, random_state=SEED))",
        "    return vectors",
    ]
    return "\n".join(lines) + "\n"


_CNN = """
class SmallCNN(BaseEstimator):
    \"\"\"A small convolutional network on the images: two conv blocks and a small dense head.

    Trained with AdamW on mini-batches, on a GPU when this process can see one (an executor that
    leases GPUs sets CUDA_VISIBLE_DEVICES), else on the CPU with OMP_NUM_THREADS threads.
    \"\"\"

    def __init__(self, epochs=5, channels=16, lr=0.003, batch_size=32, seed=0):
        self.epochs = epochs
        self.channels = channels
        self.lr = lr
        self.batch_size = batch_size
        self.seed = seed

    def _images(self, X):
        import torch

        pixels = np.asarray(X, dtype=np.float32)
        shape = (-1, IMAGE_SHAPE[0], IMAGE_SHAPE[1], IMAGE_SHAPE[2])
        images = torch.from_numpy(pixels.reshape(shape)).permute(0, 3, 1, 2).contiguous()
        return images.to(self.device_)

    def _network(self, outputs):
        from torch import nn

        c = self.channels
        return nn.Sequential(
            nn.Conv2d(IMAGE_SHAPE[2], c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(c, 2 * c, 3, padding=1), nn.BatchNorm2d(2 * c), nn.ReLU(),
            nn.MaxPool2d(2),
            # a coarse 3x3 map keeps where strokes are, which global pooling would lose
            nn.AdaptiveAvgPool2d(3), nn.Flatten(),
            nn.Linear(18 * c, 64), nn.ReLU(), nn.Linear(64, outputs),
        )

    def fit(self, X, y):
        import torch
        from torch import nn

        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
        torch.manual_seed(self.seed)
        self.device_ = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        torch.backends.cudnn.deterministic = True  # the same seed, the same network
        images = self._images(X)
@TARGETS@
        targets = targets.to(self.device_)
        self.net_ = self._network(outputs).to(self.device_)
        optimizer = torch.optim.AdamW(self.net_.parameters(), lr=self.lr)
        epochs = min(self.epochs, 3) if DEBUG else self.epochs
        size = min(self.batch_size, max(8, len(images) // 8))  # at least 8 updates per epoch
        generator = torch.Generator().manual_seed(self.seed)
        for epoch in range(epochs):
            self.net_.train()
            order = torch.randperm(len(images), generator=generator).to(self.device_)
            total = 0.0
            for start in range(0, len(images), size):
                batch = order[start : start + size]
                if len(batch) < 2:  # batch norm needs two examples
                    continue
                optimizer.zero_grad()
                loss = loss_fn(self.net_(images[batch]), targets[batch])
                loss.backward()
                optimizer.step()
                total += loss.item() * len(batch)
            where = f"{epoch + 1}/{epochs} on {self.device_}"
            print(f"    cnn epoch {where}: loss {total / len(images):.4f}", flush=True)
        return self

    def _outputs(self, X):
        import torch

        self.net_.eval()
        images = self._images(X)
        with torch.no_grad():
            chunks = [self.net_(images[i : i + 512]) for i in range(0, len(images), 512)]
        return torch.cat(chunks).cpu()
@PREDICT@
"""

_CNN_CLASSIFY_TARGETS = """
        self.classes_ = np.unique(y)
        targets = torch.as_tensor(np.searchsorted(self.classes_, y), dtype=torch.long)
        outputs, loss_fn = len(self.classes_), nn.CrossEntropyLoss()
"""

_CNN_REGRESS_TARGETS = """
        self.mean_, self.std_ = float(np.mean(y)), float(np.std(y)) or 1.0
        targets = torch.as_tensor((np.asarray(y, dtype=np.float32) - self.mean_) / self.std_)
        outputs, loss_fn = 1, lambda out, t: nn.functional.mse_loss(out[:, 0], t)
"""

_CNN_CLASSIFY_PREDICT = """
    def predict_proba(self, X):
        return self._outputs(X).softmax(dim=1).numpy()

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(axis=1)]
"""

_CNN_REGRESS_PREDICT = """
    def predict(self, X):
        return self._outputs(X)[:, 0].numpy() * self.std_ + self.mean_
"""

_PREDICT_CLASSIFY = """
def predict(model, X):
    \"\"\"Class probabilities: one column per class of CLASSES (0 for classes never seen).\"\"\"
    proba = np.zeros((len(X), len(CLASSES)))
    if hasattr(model, "predict_proba"):
        proba[:, model.classes_] = model.predict_proba(X)
    else:  # a model without probabilities votes for one class
        proba[np.arange(len(X)), model.predict(X)] = 1.0
    return proba


def clip_probabilities(proba):
    proba = np.clip(proba, EPS, 1 - EPS)
    return proba / proba.sum(axis=1, keepdims=True)
"""

_PREDICT_REGRESS = """
def predict(model, X):
    return np.asarray(model.predict(X), dtype="float64")@CLIP@
"""

_FOLDS_CLASSIFY = """
def make_folds(y):
    \"\"\"Stratified K-fold splits (plain K-fold when a class has fewer rows than folds).\"\"\"
    counts = np.bincount(y)
    if counts[counts > 0].min() >= N_FOLDS:
        splitter = StratifiedKFold(N_FOLDS, shuffle=True, random_state=SEED)
    else:
        splitter = KFold(N_FOLDS, shuffle=True, random_state=SEED)
    return list(splitter.split(np.zeros(len(y)), y))
"""

_FOLDS_REGRESS = """
def make_folds(y):
    \"\"\"K-fold splits of the shuffled training rows.\"\"\"
    splitter = KFold(N_FOLDS, shuffle=True, random_state=SEED)
    return list(splitter.split(np.zeros(len(y))))
"""

_FIT_AND_VALIDATE = """
def fit(model, X, y, numeric):
    \"\"\"Fit one of build_models()' models, its preprocessing included, on X, y.\"\"\"
    estimator, kind, limit = model
    if limit and len(X) > limit:  # kernel methods scale quadratically: fit on a random subset
        keep = np.random.default_rng(SEED).choice(len(X), limit, replace=False)
        X, y = X.iloc[keep], y[keep]
    pipeline = make_pipeline(make_preprocessor(kind, numeric), clone(estimator))
    return pipeline.fit(X, y)


def validate(name, model, X, y, numeric, folds, train_rows):
    \"\"\"Out-of-fold predictions of one model and its predictions on training rows.\"\"\"
    oof = np.zeros(@PRED_SHAPE@)
    seen = []
    for i, (fit_rows, valid_rows) in enumerate(folds, 1):
        started = time.time()
        fitted = fit(model, X.iloc[fit_rows], y[fit_rows], numeric)
        oof[valid_rows] = predict(fitted, X.iloc[valid_rows])
        seen.append(predict(fitted, X.iloc[train_rows[i - 1]]))
        valid_score = score(y[valid_rows], oof[valid_rows])
        train_score = score(y[train_rows[i - 1]], seen[-1])
        print(
            f"[fold {i}/{len(folds)}] {name}: valid {METRIC}={valid_score:.6f} "
            f"train={train_score:.6f} ({time.time() - started:.1f}s)",
            flush=True,
        )
    return oof, seen


def train_score(y, seen, train_rows):
    \"\"\"Mean score on the training rows of each fold (compare with the validation score).\"\"\"
    return float(np.nanmean([score(y[rows], p) for rows, p in zip(train_rows, seen)]))
"""

_STACK_CLASSIFY = """
def stacker():
    return LogisticRegression(C=1.0, max_iter=2000)


def stack_inputs(predictions):
    return np.hstack(predictions)
"""

_STACK_REGRESS = """
def stacker():
    return LinearRegression(positive=True)


def stack_inputs(predictions):
    return np.column_stack(predictions)
"""

_STACK = """
def stack(oofs, tests, y, folds):
    \"\"\"Stacking: a linear model on the members' out-of-fold predictions, validated on the
    same folds; returns its out-of-fold and its test predictions.\"\"\"
    Z, Z_test = stack_inputs(oofs), stack_inputs(tests)
    stacked = np.zeros_like(oofs[0])
    for fit_rows, valid_rows in folds:
        stacked[valid_rows] = predict(stacker().fit(Z[fit_rows], y[fit_rows]), Z[valid_rows])
    return stacked, predict(stacker().fit(Z, y), Z_test)
"""


def _submission_code(profile: DataProfile) -> str:
    target = profile.targets[0]
    if not profile.is_classification:
        body = f"    submission[{_py(target)}] = pred"
    elif profile.class_columns:
        body = (
            "    names = [str(c) for c in CLASSES]\n"
            "    proba = clip_probabilities(pred)\n"
            "    for column in SUBMISSION_COLUMNS:  # one probability column per class\n"
            "        submission[column] = proba[:, names.index(column)]"
        )
    elif profile.output == "proba":
        body = (
            "    # the probability of the positive class, CLASSES[1]\n"
            f"    submission[{_py(target)}] = clip_probabilities(pred)[:, 1]"
        )
    else:
        body = f"    submission[{_py(target)}] = CLASSES[pred.argmax(axis=1)]"
    if profile.id_column is not None:
        head = "    submission = pd.DataFrame({ID: test[ID].to_numpy()})"
        order = (
            '    submission = sample[[ID]].merge(submission, on=ID, how="left")  # its row order'
        )
        columns = "[ID, *SUBMISSION_COLUMNS]"
    else:
        head = "    submission = pd.DataFrame(index=range(len(test)))"
        order = "    # no id column: rows follow the test table's order, as the sample's do"
        columns = "SUBMISSION_COLUMNS"
    return (
        "def write_submission(test, sample, pred):\n"
        '    """The sample submission\'s layout filled with our predictions for the test rows."""\n'
        f"{head}\n{body}\n{order}\n"
        "    SUBMISSION.parent.mkdir(parents=True, exist_ok=True)\n"
        f"    submission[{columns}].to_csv(SUBMISSION, index=False)\n"
    )


_MAIN = """
def main():
    started = time.time()
    train, test = read(TRAIN_FILE), read(TEST_FILE)
    sample = read(SAMPLE_FILE)  # for the layout only: ids and columns
    train = train[train[TARGET].notna()].reset_index(drop=True)
@CLASSES@
    if SAMPLE_ROWS and len(train) > SAMPLE_ROWS:
        train = train.sample(n=SAMPLE_ROWS, random_state=SEED).reset_index(drop=True)
    if DEBUG:
        train = train.sample(n=min(len(train), DEBUG_ROWS), random_state=SEED)
        train = train.reset_index(drop=True)
@ENCODE@
    X, X_test = make_features(train, test)
    numeric = [c for c in X.columns if c not in set(ONEHOT + ORDINAL + TEXT)]
    print(f"train {X.shape}, test {X_test.shape}, debug={DEBUG}, seed={SEED}", flush=True)

    folds = make_folds(y)
    rng = np.random.default_rng(SEED)
    train_rows = [
        rng.choice(fit_rows, min(len(fit_rows), TRAIN_SCORE_ROWS), replace=False)
        for fit_rows, _ in folds
    ]
    oofs, seen, tests, rows = {}, {}, {}, []
    models = build_models()
    for name, model in models.items():
        model_started = time.time()
        oofs[name], seen[name] = validate(name, model, X, y, numeric, folds, train_rows)
        tests[name] = predict(fit(model, X, y, numeric), X_test)
        valid, fitted = score(y, oofs[name]), train_score(y, seen[name], train_rows)
        rows.append({"model": name, METRIC: valid, "train_" + METRIC: fitted})
        print(f"{name}: {METRIC}={valid:.6f} ({time.time() - model_started:.1f}s)", flush=True)

    names = list(models)
    blended_seen = [np.mean([seen[n][i] for n in names], axis=0) for i in range(len(folds))]
@ENSEMBLE@
    fitted = train_score(y, blended_seen, train_rows)
    rows.append({"model": "ensemble", METRIC: score(y, oof), "train_" + METRIC: fitted})
    pd.DataFrame(rows).to_csv(SCORES, index=False)
    write_submission(test, sample, pred)
    print(f"ensemble: {METRIC}={rows[-1][METRIC]:.6f}; done in {time.time() - started:.1f}s")


if __name__ == "__main__":
    main()
"""


# --------------------------------------------------------------------------- the program


def _columns(profile: DataProfile, spec: PipelineSpec, images: bool) -> dict[str, list[str]]:
    f = spec.features
    drop = set(f.drop)
    pixels = set(profile.image.pixel_columns) if images and profile.image else set()
    kinds = {c.name: c for c in profile.columns if c.name not in drop and c.name not in pixels}
    numeric = [n for n, c in kinds.items() if c.kind == "numeric"]
    categorical = [c for n, c in kinds.items() if c.kind == "categorical"]
    if f.encoding == "ordinal":
        onehot, ordinal = [], [c.name for c in categorical]
    else:
        onehot = [c.name for c in categorical if c.cardinality <= f.max_onehot]
        ordinal = [c.name for c in categorical if c.cardinality > f.max_onehot]
    text = [n for n, c in kinds.items() if c.kind == "text"] if f.text == "tfidf" else []
    dates = [n for n, c in kinds.items() if c.kind == "date"] if f.date_parts else []
    return {
        "numeric": numeric,
        "onehot": onehot,
        "ordinal": ordinal,
        "text": text,
        "dates": dates,
        "count": [c.name for c in categorical] if f.count_encoding else [],
        "interact": numeric[:10] if f.interactions and len(numeric) >= 2 else [],
        "images": ["yes"] if images else [],
    }


def _uses_images(profile: DataProfile, spec: PipelineSpec) -> bool:
    """Whether the program reads the image folders: when asked to, or when the tables hold no
    other feature (images are then all there is to learn from)."""
    image = profile.image
    readable = bool(
        image is not None and image.test_dir and image.width and profile.id_column is not None
    )
    wanted = spec.features.image == "pixels" or not profile.tabular_features
    return readable and wanted


def _docstring(
    profile: DataProfile, spec: PipelineSpec, members: list[ModelSpec]
) -> tuple[str, str]:
    kind = {"binary": "Binary classification", "multiclass": "Multi-class classification"}.get(
        profile.task, "Regression"
    )
    names = [a(m.family) for m in members]
    if len(names) == 1:
        model = names[0]
    else:
        blend = "a stack" if spec.ensemble_method == "stack" and len(names) > 1 else "the mean"
        model = f"{blend} of {', '.join(names[:-1])} and {names[-1]}"
    title = textwrap.fill(f"{kind} of `{profile.target}` with {model}.", width=96)
    summary = textwrap.fill(
        f"Data: {profile.summary()}. Pipeline: {spec.describe()}. Validation: "
        f"{spec.cv_folds}-fold {'stratified ' if profile.is_classification else ''}cross-"
        f"validation on the competition's metric; the final models are refit on all training "
        f"rows.",
        width=96,
    )
    return title, summary


def _imports(
    spec: PipelineSpec, cols: dict[str, list[str]], built: list, metric: list[str], cls: bool
) -> str:
    kinds = {kind for _, kind, _ in built}
    imports = {
        "from sklearn.base import clone",
        "from sklearn.compose import ColumnTransformer",
        "from sklearn.impute import SimpleImputer",
        "from sklearn.pipeline import make_pipeline",
        "from sklearn.model_selection import KFold" + (", StratifiedKFold" if cls else ""),
        *metric,
    }
    if spec.features.scale or cols["interact"]:
        imports.add("from sklearn.preprocessing import StandardScaler")
    for _, _, extra in built:
        imports |= extra
    optional = {
        "onehot": "from sklearn.preprocessing import OneHotEncoder",
        "ordinal": "from sklearn.preprocessing import OrdinalEncoder",
        "interact": "from sklearn.preprocessing import PolynomialFeatures",
    }
    imports |= {line for key, line in optional.items() if cols[key]}
    if cols["text"]:
        imports |= {
            "from sklearn.decomposition import TruncatedSVD",
            "from sklearn.feature_extraction.text import TfidfVectorizer",
        }
        if spec.features.text_char:
            imports.add("from sklearn.pipeline import make_union")
    if "image" in kinds:
        imports |= {
            "from sklearn.base import BaseEstimator",
            "from sklearn.compose import make_column_selector",
        }
    if spec.ensemble_method == "stack" and len(built) > 1:
        model = "LogisticRegression" if cls else "LinearRegression"
        imports.add(f"from sklearn.linear_model import {model}")
    return _merge_imports(imports)


def _data_constants(
    profile: DataProfile, spec: PipelineSpec, cols: dict[str, list[str]], images: bool
) -> str:
    features = cols["numeric"] + cols["onehot"] + cols["ordinal"] + cols["text"] + cols["dates"]
    lines = [
        "# The data, as profiled from the public files.",
        f"TRAIN_FILE = {_py(profile.train.file)}",
        f"TEST_FILE = {_py(profile.test.file)}",
        f"SAMPLE_FILE = {_py(profile.sample.file)}",
        f"ID = {_py(profile.id_column)}",
        f"TARGET = {_py(profile.target)}  # the training column to predict",
        f"SUBMISSION_COLUMNS = {_py(list(profile.targets))}",
        f"METRIC = {_py(profile.metric.name)}  # the competition's metric: the scores.csv column",
    ]
    if profile.is_classification:
        lines.append("CLASSES = None  # the sorted class labels, read from the training table")
    lines += [
        _list("FEATURES", features, "the columns features are built from"),
        _list("ONEHOT", cols["onehot"], "categorical, one-hot encoded"),
        _list("ORDINAL", cols["ordinal"], "categorical, ordinal-encoded"),
        _list("TEXT", cols["text"], "free text: TF-IDF"),
    ]
    optional = {
        "dates": ("DATES", "dates: calendar parts"),
        "count": ("COUNT", "categorical: add how often each value occurs"),
        "interact": ("INTERACT", "numeric: add pairwise products"),
    }
    lines += [_list(name, cols[key], why) for key, (name, why) in optional.items() if cols[key]]
    if images:
        image = profile.image
        assert image is not None
        side = spec.features.image_size
        shape = (side or image.height, side or image.width, image.channels)
        lines += [
            f"IMAGE_TRAIN_DIR = {_py(image.train_dir)}",
            f"IMAGE_TEST_DIR = {_py(image.test_dir)}",
            f"IMAGE_MODE = {_py('L' if image.channels == 1 else 'RGB')}",
            f"IMAGE_SIZE = {_py(side)}  # resize to this side length (None keeps the size)",
            f"IMAGE_SHAPE = {_py(shape)}  # height, width, channels",
        ]
    return "\n".join(lines) + "\n"


def _model_constants(
    spec: PipelineSpec, members: list[ModelSpec], names: list[str], built: list
) -> str:
    lines = [
        "# The pipeline, as described by pipeline.json.",
        f"N_FOLDS = 2 if DEBUG else {spec.cv_folds}",
        f"SAMPLE_ROWS = {_py(spec.sample_rows)}  # train on at most this many rows (None: all)",
        "",
        "",
        "def build_models():",
        '    """The models to validate and blend: name -> (estimator, input kind, row limit).',
        "",
        "    The input kind selects the preprocessing (see make_preprocessor); a model with a row",
        '    limit is fitted on at most that many random rows (kernel methods scale badly)."""',
        "    return {",
    ]
    for name, model, (expr, kind, _) in zip(names, members, built, strict=True):
        limit = model.params.get("max_rows")
        line = f"        {_py(name)}: ({expr}, {_py(kind)}, {_py(limit)}),"
        if len(line) > 100:
            head, _, args = expr.partition("(")
            inner = _pack(args[:-1].split(", "), 100, " " * 16)
            line = (
                f"        {_py(name)}: (\n            {head}(\n{inner}\n            ),\n"
                f"            {_py(kind)},\n            {_py(limit)},\n        ),"
            )
        lines.append(line)
    lines.append("    }")
    return "\n".join(lines) + "\n"


def _main_code(profile: DataProfile, stacking: bool) -> str:
    if profile.is_classification:
        classes = (
            "    global CLASSES\n"
            "    CLASSES = np.unique(train[TARGET])  # sorted labels: CLASSES[k] is class k\n"
        )
        encode = "    y = np.searchsorted(CLASSES, train[TARGET].to_numpy())"
    else:
        classes = ""
        encode = '    y = train[TARGET].to_numpy(dtype="float64")'
    if stacking:
        ensemble = (
            "    # stacking (its training score is approximated by the members' mean)\n"
            "    oof, pred = stack([oofs[n] for n in names], [tests[n] for n in names], y, folds)"
        )
    else:
        ensemble = (
            "    oof = np.mean([oofs[n] for n in names], axis=0)  # the ensemble: a plain mean\n"
            "    pred = np.mean([tests[n] for n in names], axis=0)"
        )
    return _block(_MAIN, CLASSES=classes, ENCODE=encode, ENSEMBLE=ensemble).replace(
        "\n\n    if SAMPLE_ROWS", "\n    if SAMPLE_ROWS"
    )


def write_program(spec: PipelineSpec, profile: DataProfile, *, debug_rows: int = DEBUG_ROWS) -> str:
    """A self-contained ``main.py`` running ``spec`` on the competition ``profile`` describes.

    A requested CNN without torch (or without image folders) is replaced by gradient boosting.
    """
    images = _uses_images(profile, spec)
    members = _usable_members(spec, profile, images)
    names = _names(members)
    cols = _columns(profile, spec, images)
    cls = profile.is_classification
    built = [_estimator(m, spec, profile) for m in members]
    kinds = {kind for _, kind, _ in built}
    stacking = spec.ensemble_method == "stack" and len(members) > 1
    note, score_body, metric_imports = _metric_code(profile)
    title, summary = _docstring(profile, spec, members)

    head = [
        _block(_HEADER, TITLE=title, SUMMARY=summary, DEBUG_ROWS=str(debug_rows)),
        _imports(spec, cols, built, metric_imports, cls),
        _block(_SETTINGS, DEBUG_ROWS=str(debug_rows)),
        _data_constants(profile, spec, cols, images),
        _model_constants(spec, members, names, built) + note,
    ]
    code = [_block(_READ)]
    if images:
        assert profile.image is not None
        code.append(_block(_IMAGES, EXT=profile.image.extension))
    code.append(_make_features(profile, spec, cols))
    if cols["text"]:
        code.append(_text_features(spec))
    code.append(_preprocessor(spec, cols, kinds))
    if "image" in kinds:
        targets = _CNN_CLASSIFY_TARGETS if cls else _CNN_REGRESS_TARGETS
        predict = _CNN_CLASSIFY_PREDICT if cls else _CNN_REGRESS_PREDICT
        code.append(_block(_CNN, TARGETS=targets.strip("\n"), PREDICT=predict.rstrip("\n")))
    if cls:
        code.append(_block(_PREDICT_CLASSIFY))
    else:
        clip = ""
        if profile.metric.canonical == "rmsle":
            clip = ".clip(0, None)  # rmsle: no negative predictions"
        elif profile.target_min is not None and profile.target_min >= 0:
            clip = ".clip(0, None)  # the target is never negative"
        code.append(_block(_PREDICT_REGRESS, CLIP=clip))
    code.append("def score(y, pred):\n" + textwrap.indent(score_body, "    ") + "\n")
    code.append(_block(_FOLDS_CLASSIFY if cls else _FOLDS_REGRESS))
    shape = "(len(y), len(CLASSES))" if cls else "len(y)"
    code.append(_block(_FIT_AND_VALIDATE, PRED_SHAPE=shape))
    if stacking:
        code.append(_block(_STACK_CLASSIFY if cls else _STACK_REGRESS))
        code.append(_block(_STACK))
    code.append(_submission_code(profile))
    code.append(_main_code(profile, stacking))
    return "".join(head[:2]) + "\n".join(head[2:]) + "\n\n" + "\n\n".join(code)


def _list(name: str, values: list[str], comment: str) -> str:
    text = f"{name} = {_py(values)}  # {comment}"
    if len(text) <= 100:
        return text
    body = _pack([_py(v) for v in values], 100, "    ")
    return f"{name} = [  # {comment}\n{body},\n]"


def _merge_imports(imports: set[str]) -> str:
    """``from x import a`` lines merged per module, sorted."""
    by_module: dict[str, set[str]] = {}
    for line in imports:
        module, _, names = line.partition(" import ")
        by_module.setdefault(module, set()).update(n.strip() for n in names.split(","))
    lines = []
    for module in sorted(by_module):
        names = ", ".join(sorted(by_module[module], key=str.lower))
        line = f"{module} import {names}"
        if len(line) > 100:
            inner = "".join(f"    {n},\n" for n in sorted(by_module[module], key=str.lower))
            line = f"{module} import (\n{inner})"
        lines.append(line)
    return "\n".join(lines) + "\n"
