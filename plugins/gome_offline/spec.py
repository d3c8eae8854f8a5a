"""The pipeline spec: a machine-readable description of one solution program.

A :class:`PipelineSpec` says which model family (and ensemble members) to train, how to build the
features, how to validate. Hypotheses carry their change as an *edit*: a mapping of dotted keys to
values (``{"model.family": "hist_gbm", "features.log_target": True}``) that
:meth:`PipelineSpec.apply` validates and applies. :func:`gome_offline.writer.write_program` turns
a spec into a ``main.py``; a candidate carries its spec as ``pipeline.json`` so later steps can
recover it.
"""

from __future__ import annotations

import json
import math
import types
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
from attrs import field, frozen

if TYPE_CHECKING:
    from gome_offline.profile import DataProfile

__all__ = [
    "FAMILIES",
    "FeatureSpec",
    "ModelSpec",
    "PipelineSpec",
    "SpecError",
    "cheaper",
    "default_params",
    "default_spec",
    "robust",
    "smaller",
]

SPEC_FILE = "pipeline.json"


class SpecError(ValueError):
    """An edit or a ``pipeline.json`` that does not describe a valid pipeline."""


# --------------------------------------------------------------------------- model families

#: Family -> its hyperparameters with their base defaults. ``max_rows`` (fit each model on a
#: random subset of at most that many rows) is accepted by every family.
FAMILIES: dict[str, dict[str, Any]] = {
    "linear": {"C": 1.0, "alpha": 1.0, "max_iter": 2000},
    "random_forest": {
        "n_estimators": 200,
        "max_depth": None,
        "min_samples_leaf": 1,
        "max_features": "sqrt",
    },
    "extra_trees": {
        "n_estimators": 200,
        "max_depth": None,
        "min_samples_leaf": 1,
        "max_features": "sqrt",
    },
    "hist_gbm": {
        "learning_rate": 0.1,
        "max_iter": 200,
        "max_leaf_nodes": 31,
        "min_samples_leaf": 20,
        "l2_regularization": 0.0,
    },
    "knn": {"n_neighbors": 15, "weights": "distance"},
    "svm": {"C": 3.0, "gamma": "scale", "kernel": "rbf"},
    "cnn": {"epochs": 5, "channels": 16, "lr": 0.003, "batch_size": 32},
}

#: Human names for docstrings and plans (see :func:`a`).
FAMILY_NAMES = {
    "linear": "linear model (logistic / ridge regression)",
    "random_forest": "random forest",
    "extra_trees": "extra-trees model",
    "hist_gbm": "histogram gradient boosting model",
    "knn": "k-nearest-neighbours model",
    "svm": "support vector machine (RBF kernel)",
    "cnn": "small convolutional network (torch)",
}


def a(family: str) -> str:
    """The family's name with its indefinite article: ``an extra-trees model``."""
    name = FAMILY_NAMES[family]
    return ("an " if name[0] in "aeiou" else "a ") + name


_POSITIVE_INT = ("n_estimators", "max_iter", "max_leaf_nodes", "min_samples_leaf", "n_neighbors")
_POSITIVE_INT += ("epochs", "channels", "batch_size", "max_depth", "max_rows")
_POSITIVE_FLOAT = ("C", "alpha", "learning_rate", "lr")
_CHOICES: dict[str, tuple[Any, ...]] = {
    "weights": ("uniform", "distance"),
    "kernel": ("rbf", "linear", "poly"),
}
_NULLABLE = ("max_depth", "max_features", "max_rows")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_param(family: str, name: str, value: Any) -> Any:
    """``value`` validated for hyperparameter ``name`` of ``family`` (ints kept as given)."""
    allowed = FAMILIES[family]
    if name not in allowed and name != "max_rows":
        raise SpecError(
            f"{family} has no hyperparameter {name!r}; known: {', '.join([*allowed, 'max_rows'])}"
        )
    if value is None and name in _NULLABLE:
        return None
    if name in _POSITIVE_INT:
        if not (_is_number(value) and value == int(value) and value >= 1):
            raise SpecError(f"{family}.{name} must be a positive integer, got {value!r}")
        return int(value)
    if name in _POSITIVE_FLOAT:
        if not (_is_number(value) and value > 0):
            raise SpecError(f"{family}.{name} must be a positive number, got {value!r}")
        return float(value)
    if name in _CHOICES:
        if value not in _CHOICES[name]:
            raise SpecError(f"{family}.{name} must be one of {_CHOICES[name]}, got {value!r}")
        return value
    if name == "l2_regularization":
        if not (_is_number(value) and value >= 0):
            raise SpecError(f"{family}.{name} must be a number >= 0, got {value!r}")
        return float(value)
    if name == "max_features":
        if value in ("sqrt", "log2") or (_is_number(value) and 0 < value <= 1):
            return value
        raise SpecError(f"{family}.max_features must be sqrt, log2, a fraction or null")
    if name == "gamma":
        if value in ("scale", "auto") or (_is_number(value) and value > 0):
            return value
        raise SpecError(f"{family}.gamma must be scale, auto or a positive number")
    return value


def default_params(family: str, profile: DataProfile | None = None) -> dict[str, Any]:
    """The family's hyperparameters, sized so a full run stays fast on ``profile``'s data."""
    if family not in FAMILIES:
        raise SpecError(f"unknown model family {family!r}; known: {', '.join(FAMILIES)}")
    params = dict(FAMILIES[family])
    if profile is None:
        return params
    rows, n_classes = profile.rows, max(1, len(profile.classes))
    if family in ("random_forest", "extra_trees"):
        params["n_estimators"] = 300 if rows < 5_000 else 150 if rows < 20_000 else 100
        if rows > 20_000:
            params["min_samples_leaf"] = 2
    elif family == "hist_gbm" and n_classes > 2:
        # One tree per class and iteration: keep the total number of trees bounded.
        params["max_iter"] = max(50, 400 // n_classes)
    elif family in ("svm", "knn") and rows > 5_000:
        params["max_rows"] = 5_000
    elif family == "cnn" and rows > 20_000:
        params["epochs"] = 3
    return params


@frozen
class ModelSpec:
    """One model: a family and its hyperparameters."""

    family: str = field(validator=attrs.validators.in_(tuple(FAMILIES)))
    params: Mapping[str, Any] = field(
        factory=dict, converter=lambda v: types.MappingProxyType(dict(v or {}))
    )

    @classmethod
    def of(cls, family: str, profile: DataProfile | None = None, **overrides: Any) -> ModelSpec:
        """The family with its defaults for ``profile``, then ``overrides`` (validated)."""
        params = default_params(family, profile)
        for name, value in overrides.items():
            params[name] = _check_param(family, name, value)
        return cls(family, params)

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any] | str, profile: DataProfile | None = None
    ) -> ModelSpec:
        """A model from ``"family"`` or ``{"family": ..., "params": {...}}``."""
        if isinstance(data, str):
            return cls.of(data, profile)
        if not isinstance(data, Mapping) or "family" not in data:
            raise SpecError(f"a model must be a family name or a mapping with a family: {data!r}")
        return cls.of(data["family"], profile, **dict(data.get("params") or {}))

    def with_params(self, **params: Any) -> ModelSpec:
        checked = {k: _check_param(self.family, k, v) for k, v in params.items()}
        return ModelSpec(self.family, {**self.params, **checked})

    def to_dict(self) -> dict[str, Any]:
        return {"family": self.family, "params": dict(self.params)}

    @property
    def name(self) -> str:
        return FAMILY_NAMES[self.family]


# --------------------------------------------------------------------------- features


def _positive(_: Any, attribute: attrs.Attribute, value: Any) -> None:
    if value is not None and (not _is_number(value) or value < 1):
        raise ValueError(f"{attribute.name} must be a positive integer, got {value!r}")


@frozen
class FeatureSpec:
    """How the generated program builds its features (every field has a sensible default)."""

    #: Standardise numeric columns (linear models, k-NN and SVMs need it).
    scale: bool = True
    #: ``onehot`` or ``ordinal`` for categorical columns.
    encoding: str = field(default="onehot", validator=attrs.validators.in_(("onehot", "ordinal")))
    #: Categoricals with more distinct values than this are ordinal-encoded even under onehot.
    max_onehot: int = field(default=20, validator=_positive)
    #: Numeric imputation: ``median``, ``mean`` or ``constant`` (zero).
    impute: str = field(
        default="median", validator=attrs.validators.in_(("median", "mean", "constant"))
    )
    #: Add a 0/1 column per numeric column with missing values.
    missing_indicators: bool = False
    #: Add the frequency of each categorical value (over train and test) as a numeric column.
    count_encoding: bool = False
    #: Add pairwise products of (up to ten) numeric columns.
    interactions: bool = False
    #: Fit the model on log1p(target) and invert its predictions (skewed positive targets).
    log_target: bool = False
    #: Expand date columns into year, month, day, weekday (else they are dropped).
    date_parts: bool = True
    #: ``tfidf`` or ``none`` for free-text columns.
    text: str = field(default="tfidf", validator=attrs.validators.in_(("tfidf", "none")))
    text_max_features: int = field(default=20_000, validator=_positive)
    #: Word n-grams up to this length.
    text_ngrams: int = field(default=1, validator=attrs.validators.in_((1, 2, 3)))
    #: Add character 2-5-grams (robust to spelling and morphology).
    text_char: bool = False
    #: Add length and word-count columns for each text column.
    text_stats: bool = False
    #: Components of the truncated SVD that gives dense models a compact text representation.
    text_svd: int = field(default=128, validator=_positive)
    #: ``pixels`` (read the images as pixel features) or ``none``.
    image: str = field(default="pixels", validator=attrs.validators.in_(("pixels", "none")))
    #: Resize images to this side length; ``None`` keeps their size.
    image_size: int | None = field(default=None, validator=_positive)
    #: Columns left out of the features.
    drop: tuple[str, ...] = field(default=(), converter=tuple)

    def to_dict(self) -> dict[str, Any]:
        data = attrs.asdict(self)
        data["drop"] = list(self.drop)
        return data


# --------------------------------------------------------------------------- the pipeline

#: Feature settings that size a pipeline rather than shape it (see ``PipelineSpec.shape``).
_FEATURE_SIZES = frozenset({"max_onehot", "text_max_features", "text_svd", "image_size"})


@frozen
class PipelineSpec:
    """A whole solution program: model (and ensemble members), features, validation.

    ``ensemble`` holds models trained beside ``model``; their validated predictions are blended
    by ``ensemble_method`` (``mean`` or ``stack``: a linear model on out-of-fold predictions).
    """

    model: ModelSpec
    features: FeatureSpec = FeatureSpec()
    ensemble: tuple[ModelSpec, ...] = field(default=(), converter=tuple)
    ensemble_method: str = field(default="mean", validator=attrs.validators.in_(("mean", "stack")))
    cv_folds: int = field(default=5, validator=attrs.validators.in_(tuple(range(2, 21))))
    #: ``None`` or ``balanced`` (reweight classes inversely to their frequency).
    class_weight: str | None = field(
        default=None, validator=attrs.validators.in_((None, "balanced"))
    )
    #: Stop boosting (or CNN training) when an inner validation split stops improving.
    early_stopping: bool = False
    #: Train on a random sample of at most this many rows (speed); ``None`` uses all.
    sample_rows: int | None = field(default=None, validator=_positive)

    @property
    def members(self) -> tuple[ModelSpec, ...]:
        """Every model the program trains, the main one first."""
        return (self.model, *self.ensemble)

    @property
    def families(self) -> tuple[str, ...]:
        return tuple(m.family for m in self.members)

    @property
    def shape(self) -> tuple[Any, ...]:
        """What the pipeline is, without its sizes (model parameters, folds, sampled rows,
        feature counts): a cheaper or smaller version of a pipeline has its shape."""
        features = self.features
        kinds = {
            f.name: getattr(features, f.name)
            for f in attrs.fields(type(features))
            if f.name not in _FEATURE_SIZES
        }
        members = frozenset(m.family for m in self.ensemble)  # a family twice is one idea
        return (
            self.model.family,
            members,
            kinds,
            self.ensemble_method,
            self.class_weight,
            self.early_stopping,
        )

    # -- edits

    def apply(self, edit: Mapping[str, Any], profile: DataProfile | None = None) -> PipelineSpec:
        """A new spec with ``edit`` applied; raises :class:`SpecError` for a bad key or value.

        Keys: ``model`` (a model mapping), ``model.family`` (resets the hyperparameters to the
        family's defaults), ``model.params.<name>``, ``features.<field>``, ``ensemble.members``
        (a list of models), ``ensemble.add`` (one model), ``ensemble.remove`` (a family),
        ``ensemble.method``, ``cv_folds``, ``class_weight``, ``early_stopping``, ``sample_rows``.
        A model is a family name or ``{"family": ..., "params": {...}}``.
        """
        spec = self
        # Family switches first, so that parameters in the same edit apply to the new family.
        ordered = sorted(edit.items(), key=lambda kv: kv[0] not in ("model", "model.family"))
        for key, value in ordered:
            try:
                spec = spec._apply_one(key, value, profile)
            except SpecError:
                raise
            except (TypeError, ValueError) as exc:
                raise SpecError(f"edit {key}={value!r}: {exc}") from exc
        return spec

    def _apply_one(self, key: str, value: Any, profile: DataProfile | None) -> PipelineSpec:
        evolve = attrs.evolve
        if key == "model":
            return evolve(self, model=ModelSpec.from_dict(value, profile))
        if key == "model.family":
            if value == self.model.family:
                return self
            return evolve(self, model=ModelSpec.from_dict(value, profile))
        if key.startswith("model.params."):
            return evolve(
                self, model=self.model.with_params(**{key[len("model.params.") :]: value})
            )
        if key.startswith("features."):
            name = key[len("features.") :]
            if name not in attrs.fields_dict(FeatureSpec):
                known = ", ".join(attrs.fields_dict(FeatureSpec))
                raise SpecError(f"unknown feature option {name!r}; known: {known}")
            expected = attrs.fields_dict(FeatureSpec)[name].type
            if name == "drop" and (isinstance(value, str) or not isinstance(value, Sequence)):
                raise SpecError(f"features.drop must be a list of column names, got {value!r}")
            if expected in ("bool", bool) and not isinstance(value, bool):
                raise SpecError(f"features.{name} must be true or false, got {value!r}")
            return evolve(self, features=evolve(self.features, **{name: value}))
        if key == "ensemble.members":
            if isinstance(value, str | Mapping) or not isinstance(value, Sequence):
                raise SpecError("ensemble.members must be a list of models")
            return evolve(self, ensemble=[ModelSpec.from_dict(v, profile) for v in value])
        if key == "ensemble.add":
            member = ModelSpec.from_dict(value, profile)
            if member in self.members:
                return self
            return evolve(self, ensemble=(*self.ensemble, member))
        if key == "ensemble.remove":
            kept = tuple(m for m in self.ensemble if m.family != value)
            return evolve(self, ensemble=kept)
        if key == "ensemble.method":
            return evolve(self, ensemble_method=value)
        if key in ("cv_folds", "class_weight", "early_stopping", "sample_rows"):
            if key == "early_stopping" and not isinstance(value, bool):
                raise SpecError(f"early_stopping must be true or false, got {value!r}")
            if key in ("cv_folds", "sample_rows") and isinstance(value, bool):
                raise SpecError(f"{key} must be an integer, got {value!r}")
            return evolve(self, **{key: value})
        raise SpecError(
            f"unknown edit key {key!r}; known: model, model.family, model.params.<name>, "
            f"features.<option>, ensemble.members, ensemble.add, ensemble.remove, "
            f"ensemble.method, cv_folds, class_weight, early_stopping, sample_rows"
        )

    def flatten(self) -> dict[str, Any]:
        """The spec as dotted keys (the vocabulary of edits)."""
        flat: dict[str, Any] = {"model.family": self.model.family}
        flat.update({f"model.params.{k}": v for k, v in self.model.params.items()})
        flat.update({f"features.{k}": v for k, v in self.features.to_dict().items()})
        flat["ensemble.members"] = [m.to_dict() for m in self.ensemble]
        flat["ensemble.method"] = self.ensemble_method
        for name in ("cv_folds", "class_weight", "early_stopping", "sample_rows"):
            flat[name] = getattr(self, name)
        return flat

    def diff(self, other: PipelineSpec) -> dict[str, Any]:
        """The edit that turns this spec into ``other`` (``self.apply(diff) == other``)."""
        mine, theirs = self.flatten(), other.flatten()
        if other.model.family != self.model.family:
            edit: dict[str, Any] = {"model": other.model.to_dict()}
            skip = {k for k in theirs if k.startswith("model.")}
        else:
            edit, skip = {}, set()
        for key, value in theirs.items():
            if key not in skip and mine.get(key) != value:
                edit[key] = list(value) if key == "features.drop" else value
        return edit

    # -- serialisation

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.to_dict(),
            "features": self.features.to_dict(),
            "ensemble": {
                "members": [m.to_dict() for m in self.ensemble],
                "method": self.ensemble_method,
            },
            "cv_folds": self.cv_folds,
            "class_weight": self.class_weight,
            "early_stopping": self.early_stopping,
            "sample_rows": self.sample_rows,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PipelineSpec:
        try:
            ensemble = data.get("ensemble") or {}
            return cls(
                model=ModelSpec.from_dict(data["model"]),
                features=FeatureSpec(**dict(data.get("features") or {})),
                ensemble=[ModelSpec.from_dict(m) for m in ensemble.get("members", ())],
                ensemble_method=ensemble.get("method", "mean"),
                cv_folds=data.get("cv_folds", 5),
                class_weight=data.get("class_weight"),
                early_stopping=data.get("early_stopping", False),
                sample_rows=data.get("sample_rows"),
            )
        except SpecError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise SpecError(f"not a pipeline spec: {exc}") from exc

    @classmethod
    def from_json(cls, text: str) -> PipelineSpec:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SpecError(f"{SPEC_FILE} is not JSON: {exc}") from exc
        if not isinstance(data, Mapping):
            raise SpecError(f"{SPEC_FILE} must hold a JSON object")
        return cls.from_dict(data)

    def describe(self) -> str:
        """One line: the model(s) and the notable feature options."""
        names = " + ".join(m.family for m in self.members)
        if self.ensemble:
            names = f"{self.ensemble_method} of {names}"
        defaults = FeatureSpec()
        changed = [
            f"{k}={v}"
            for k, v in self.features.to_dict().items()
            if v != getattr(defaults, k) and not (k == "drop" and not v)
        ]
        extra = [f"{self.cv_folds} folds"]
        if self.class_weight:
            extra.append(f"class_weight={self.class_weight}")
        if self.sample_rows:
            extra.append(f"sample_rows={self.sample_rows}")
        return f"{names}; " + ", ".join(changed + extra)


# --------------------------------------------------------------------------- starts and remedies


def default_spec(profile: DataProfile, *, max_folds: int = 5) -> PipelineSpec:
    """A sensible first pipeline for ``profile``.

    Text -> TF-IDF with a linear model; images -> pixels with an RBF SVM (small data) or
    gradient boosting on downsampled pixels; other tables -> histogram gradient boosting.
    """
    features = FeatureSpec()
    if profile.text:
        family = "linear"
    elif profile.image is not None:
        family = "svm" if profile.rows <= 10_000 else "hist_gbm"
        # Pixels are already in [0, 1]; standardising them only amplifies empty borders.
        features = attrs.evolve(features, scale=False)
        if family == "hist_gbm" and max(profile.image.width, profile.image.height) > 16:
            features = attrs.evolve(features, image_size=16)
    else:
        family = "hist_gbm"
    folds = max(2, min(max_folds, 5 if profile.rows < 50_000 else 3))
    return PipelineSpec(model=ModelSpec.of(family, profile), features=features, cv_folds=folds)


def cheaper(spec: PipelineSpec, profile: DataProfile | None = None) -> PipelineSpec:
    """A faster version of ``spec``: fewer folds, fewer trees / iterations, fewer rows."""

    def lighter(model: ModelSpec) -> ModelSpec:
        p = dict(model.params)
        for name in ("n_estimators", "max_iter", "epochs"):
            if name in p and model.family != "linear":
                p[name] = max(2 if name == "epochs" else 30, int(p[name]) // 2)
        if model.family in ("svm", "knn"):
            p["max_rows"] = min(int(p.get("max_rows") or 4_000), 3_000)
        return ModelSpec(model.family, p)

    rows = profile.rows if profile is not None else None
    sample = spec.sample_rows or (rows if rows else None)
    if sample is not None and sample > 20_000:
        sample = max(20_000, sample // 2)
    elif spec.sample_rows is not None:
        sample = max(1_000, spec.sample_rows // 2)
    else:
        sample = None
    features = spec.features
    if features.text_max_features > 5_000:
        features = attrs.evolve(features, text_max_features=features.text_max_features // 2)
    return attrs.evolve(
        spec,
        model=lighter(spec.model),
        ensemble=[lighter(m) for m in spec.ensemble[:1]],
        cv_folds=max(2, min(3, spec.cv_folds)),
        sample_rows=sample,
        features=attrs.evolve(features, interactions=False),
    )


def smaller(spec: PipelineSpec, profile: DataProfile | None = None) -> PipelineSpec:
    """A version of ``spec`` that needs less memory: fewer text features, smaller images,
    ordinal instead of one-hot encoding, fewer rows."""
    f = spec.features
    side = f.image_size or (
        max(profile.image.width, profile.image.height) if profile and profile.image else None
    )
    features = attrs.evolve(
        f,
        encoding="ordinal",
        interactions=False,
        text_max_features=max(1_000, f.text_max_features // 4),
        text_char=False,
        text_ngrams=1,
        image_size=None if side is None else max(8, side // 2),
    )
    rows = spec.sample_rows or (profile.rows if profile else None)
    sample = max(1_000, rows // 2) if rows and rows > 2_000 else spec.sample_rows
    return attrs.evolve(spec, features=features, ensemble=spec.ensemble[:1], sample_rows=sample)


def robust(profile: DataProfile, *, max_folds: int = 5) -> PipelineSpec:
    """The most conservative pipeline: the default model, ordinal encoding, no extras."""
    base = default_spec(profile, max_folds=max_folds)
    features = attrs.evolve(base.features, encoding="ordinal", text_char=False, text_ngrams=1)
    return attrs.evolve(base, features=features, cv_folds=max(2, min(3, base.cv_folds)))
