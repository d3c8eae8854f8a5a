"""The data profile: what a competition's public files look like, read once per directory.

The profile is what the offline reasoner knows about the task before any code runs: the tables,
the id and target columns, the task type, the kind of every feature column, class balance, target
skew, missing values and image folders. It reads pandas lazily, so importing this module is cheap.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import Any

from attrs import field, frozen

from gome_offline.metrics import MetricInfo, normalize_metric

__all__ = [
    "ColumnProfile",
    "DataProfile",
    "ImageProfile",
    "ProfileError",
    "TableProfile",
    "profile_competition",
]

#: Rows read to profile a table; bigger tables are profiled on their first rows.
PROFILE_ROWS = 200_000
TABLE_SUFFIXES = (".csv", ".csv.gz", ".parquet", ".pq")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff")
_DATE_LIKE = re.compile(r"^\s*(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})")
_PIXEL_NAME = re.compile(r"^(pixel|px|pix|p)_?\d+$", re.IGNORECASE)


class ProfileError(ValueError):
    """The public files cannot be understood (missing table, no target, unsupported layout)."""


@frozen
class TableProfile:
    """One table of the public files: its file name (under the public dir), rows and columns."""

    name: str
    file: str
    rows: int
    columns: tuple[str, ...] = field(converter=tuple)

    @property
    def format(self) -> str:
        """``"csv"`` or ``"parquet"``: how the generated program reads it."""
        return "parquet" if self.file.endswith((".parquet", ".pq")) else "csv"


@frozen
class ColumnProfile:
    """One feature column of the training table.

    ``kind`` is ``numeric``, ``categorical``, ``text`` (long free-form strings), ``date`` or
    ``id``; ``missing`` the share of missing values; ``cardinality`` the distinct non-missing
    values; ``mean_length`` the mean string length (0 for numbers).
    """

    name: str
    kind: str
    dtype: str
    missing: float = 0.0
    cardinality: int = 0
    mean_length: float = 0.0


@frozen
class ImageProfile:
    """Image folders (``train/<id>.png``) and the images' size.

    ``pixel_columns`` are numeric columns of the tables that repeat the pixels (some competitions
    ship both); image features replace them.
    """

    train_dir: str
    test_dir: str | None
    extension: str
    count: int
    width: int = 0
    height: int = 0
    channels: int = 1
    pixel_columns: tuple[str, ...] = field(default=(), converter=tuple)

    @property
    def pixels(self) -> int:
        return self.width * self.height * self.channels


@frozen
class DataProfile:
    """What the offline reasoner knows about a competition's public data.

    ``targets`` are the sample submission's non-id columns; ``target`` the training column that
    holds the labels or values (the same name, or the column whose values are the class names
    when the submission has one probability column per class). ``task`` is ``binary``,
    ``multiclass`` or ``regression``; ``output`` what the submission holds: ``label``, ``proba``
    or ``value``.
    """

    public_dir: str
    metric: MetricInfo
    task: str
    output: str
    train: TableProfile
    test: TableProfile
    sample: TableProfile
    id_column: str | None
    targets: tuple[str, ...] = field(converter=tuple)
    target: str
    columns: tuple[ColumnProfile, ...] = field(converter=tuple)
    classes: tuple[Any, ...] = field(default=(), converter=tuple)
    class_shares: tuple[float, ...] = field(default=(), converter=tuple)
    target_skew: float | None = None
    target_min: float | None = None
    target_integer: bool = False
    train_only: tuple[str, ...] = field(default=(), converter=tuple)
    image: ImageProfile | None = None
    extra_files: tuple[str, ...] = field(default=(), converter=tuple)

    # -- derived views

    @property
    def rows(self) -> int:
        return self.train.rows

    @property
    def is_classification(self) -> bool:
        return self.task in ("binary", "multiclass")

    @property
    def class_columns(self) -> bool:
        """Whether the submission has one probability column per class."""
        return self.targets != (self.target,)

    @property
    def minority_share(self) -> float | None:
        return min(self.class_shares) if self.class_shares else None

    def of_kind(self, kind: str) -> tuple[str, ...]:
        """Names of the feature columns of ``kind``."""
        return tuple(c.name for c in self.columns if c.kind == kind)

    @property
    def numeric(self) -> tuple[str, ...]:
        return self.of_kind("numeric")

    @property
    def categorical(self) -> tuple[str, ...]:
        return self.of_kind("categorical")

    @property
    def text(self) -> tuple[str, ...]:
        return self.of_kind("text")

    @property
    def dates(self) -> tuple[str, ...]:
        return self.of_kind("date")

    def high_cardinality(self, threshold: int) -> tuple[str, ...]:
        """Categorical columns with more than ``threshold`` distinct values."""
        return tuple(
            c.name for c in self.columns if c.kind == "categorical" and c.cardinality > threshold
        )

    def with_missing(self, threshold: float = 0.0) -> tuple[str, ...]:
        """Feature columns whose share of missing values exceeds ``threshold``."""
        return tuple(c.name for c in self.columns if c.kind != "id" and c.missing > threshold)

    @property
    def tabular_features(self) -> tuple[str, ...]:
        """Feature columns other than ids and the pixel columns that images replace."""
        pixels = set(self.image.pixel_columns) if self.image else set()
        return tuple(c.name for c in self.columns if c.kind != "id" and c.name not in pixels)

    def summary(self) -> str:
        """One paragraph for logs and program docstrings."""
        parts = [
            f"{self.task} task on `{self.target}` ({self.rows} training rows, "
            f"{len(self.tabular_features)} feature columns), metric {self.metric.name} "
            f"({'lower' if self.metric.lower_is_better else 'higher'} is better)"
        ]
        kinds = {k: self.of_kind(k) for k in ("numeric", "categorical", "text", "date")}
        parts += [f"{len(v)} {k}" for k, v in kinds.items() if v]
        if self.image:
            parts.append(
                f"{self.image.count} images of {self.image.width}x{self.image.height}"
                f"x{self.image.channels} in {self.image.train_dir}/"
            )
        return "; ".join(parts)


# --------------------------------------------------------------------------- reading


def _find_table(public: Path, stem: str) -> Path | None:
    for suffix in TABLE_SUFFIXES:
        path = public / f"{stem}{suffix}"
        if path.is_file():
            return path
    return None


def _read(path: Path, nrows: int | None = PROFILE_ROWS) -> Any:
    import pandas as pd

    if path.name.endswith((".parquet", ".pq")):
        frame = pd.read_parquet(path)
        return frame if nrows is None else frame.head(nrows)
    return pd.read_csv(path, nrows=nrows, low_memory=False)


def _count_rows(path: Path, frame: Any) -> int:
    if len(frame) < PROFILE_ROWS or path.name.endswith((".parquet", ".pq")):
        return len(frame)
    import pandas as pd

    return sum(len(chunk) for chunk in pd.read_csv(path, usecols=[0], chunksize=500_000))


def _table(public: Path, name: str, path: Path | None) -> tuple[TableProfile, Any]:
    if path is None:
        raise ProfileError(
            f"{public} has no {name} table ({', '.join(name + s for s in TABLE_SUFFIXES)})"
        )
    frame = _read(path)
    rows = _count_rows(path, frame)
    columns = tuple(str(c) for c in frame.columns)
    return TableProfile(name=name, file=path.name, rows=rows, columns=columns), frame


def _python(value: Any) -> Any:
    """A JSON-friendly Python scalar for a numpy / pandas one."""
    return value.item() if hasattr(value, "item") else value


# --------------------------------------------------------------------------- columns


def _column(frame: Any, name: str, id_column: str | None) -> ColumnProfile:
    import pandas as pd

    series = frame[name]
    values = series.dropna()
    missing = float(series.isna().mean()) if len(series) else 0.0
    cardinality = int(values.nunique())
    dtype = str(series.dtype)
    unique_per_row = len(values) > 0 and cardinality == len(series)
    looks_like_id = name == id_column or (unique_per_row and re.search(r"(^|_)id$", name.lower()))
    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
        kind = "id" if looks_like_id else "numeric"
        return ColumnProfile(name, kind, dtype, missing, cardinality)
    if pd.api.types.is_datetime64_any_dtype(series):
        return ColumnProfile(name, "date", dtype, missing, cardinality)
    strings = values.astype(str)
    probe = strings.head(500)
    mean_length = float(strings.str.len().mean()) if len(strings) else 0.0
    words = float(probe.str.split().str.len().mean()) if len(probe) else 0.0
    if len(probe) and probe.str.match(_DATE_LIKE).mean() >= 0.9:
        kind = "date"
    elif looks_like_id and words <= 1.0:
        kind = "id"
    elif mean_length >= 30 and words >= 5 or (words >= 3 and cardinality > 0.5 * len(values)):
        kind = "text"
    else:
        kind = "categorical"
    return ColumnProfile(name, kind, dtype, missing, cardinality, round(mean_length, 2))


def _images(public: Path, frame: Any, columns: tuple[ColumnProfile, ...]) -> ImageProfile | None:
    folder = public / "train"
    if not folder.is_dir():
        return None
    count, first = 0, None
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.lower().endswith(IMAGE_SUFFIXES):
                count += 1
                first = first or Path(entry.path)
    if first is None:
        return None
    width = height = 0
    channels = 1
    try:
        from PIL import Image

        with Image.open(first) as img:
            width, height = img.size
            channels = {"L": 1, "1": 1, "P": 3, "RGB": 3, "RGBA": 3}.get(img.mode, 3)
    except Exception:  # noqa: BLE001 - an unreadable image leaves the size unknown
        pass
    numeric = [c.name for c in columns if c.kind == "numeric"]
    pixel_columns = [c for c in numeric if _PIXEL_NAME.match(c)]
    if not pixel_columns and width and len(numeric) == width * height * channels:
        pixel_columns = numeric
    test_dir = "test" if (public / "test").is_dir() else None
    return ImageProfile(
        train_dir="train",
        test_dir=test_dir,
        extension=first.suffix,
        count=count,
        width=width,
        height=height,
        channels=channels,
        pixel_columns=tuple(pixel_columns),
    )


# --------------------------------------------------------------------------- target and task


def _id_column(sample_cols: tuple[str, ...], test_cols: tuple[str, ...]) -> str | None:
    if sample_cols and sample_cols[0] in test_cols:
        return sample_cols[0]
    for name in ("id", "Id", "ID"):
        if name in sample_cols and name in test_cols:
            return name
    return None


def _find_label_column(train: Any, targets: tuple[str, ...], test_cols: tuple[str, ...]) -> str:
    wanted = {str(t) for t in targets}
    candidates = [c for c in train.columns if c not in test_cols] + list(train.columns)
    for name in dict.fromkeys(candidates):
        values = {str(_python(v)) for v in train[name].dropna().unique()[: len(wanted) + 1]}
        if values and values <= wanted and len(values) >= min(2, len(wanted)):
            return str(name)
    raise ProfileError(
        f"the submission's columns {', '.join(targets)} are not in the training table, and no "
        f"training column holds those values as labels"
    )


def _task(y: Any, metric: MetricInfo, sample_values: Any) -> tuple[str, str]:
    """(task, output) from the metric, falling back to the target's values."""
    import pandas as pd

    numeric = pd.api.types.is_numeric_dtype(y)
    unique = y.nunique()
    if metric.family == "regression":
        is_classification = False
    elif metric.family == "classification":
        is_classification = True
    else:
        integral = numeric and bool((y.dropna() == y.dropna().round()).all())
        is_classification = not numeric or (integral and unique <= 20)
    if not is_classification:
        return "regression", "value"
    task = "binary" if unique <= 2 else "multiclass"
    output = metric.output
    if output is None:
        as_numbers = pd.to_numeric(sample_values, errors="coerce")
        fractional = as_numbers.notna().all() and bool(((as_numbers % 1) != 0).any())
        output = "proba" if fractional and as_numbers.between(0, 1).all() else "label"
    if output == "proba" and task == "multiclass":
        output = "label"  # one column cannot hold a multi-class distribution
    return task, output


@functools.lru_cache(maxsize=32)
def _profile(
    public: str, _stamp: int, metric_name: str, lower_is_better: bool | None, sample_name: str
) -> DataProfile:
    root = Path(public)
    metric = normalize_metric(metric_name, lower_is_better)
    train_info, train = _table(root, "train", _find_table(root, "train"))
    test_info, test = _table(root, "test", _find_table(root, "test"))
    sample_path = root / sample_name
    if not sample_path.is_file():
        sample_path = _find_table(root, Path(sample_name).name.split(".")[0])
    sample_info, sample = _table(root, "sample_submission", sample_path)

    id_column = _id_column(sample_info.columns, test_info.columns)
    targets = tuple(c for c in sample_info.columns if c != id_column)
    if not targets:
        raise ProfileError(f"{sample_info.file} has no column to predict besides the id")
    in_train = [t for t in targets if t in train.columns]
    if len(targets) == 1 and in_train:
        target = targets[0]
    elif len(targets) > 1 and not in_train:
        target = _find_label_column(train, targets, test_info.columns)
    else:
        raise ProfileError(
            f"several target columns ({', '.join(targets)}) each in the training table: "
            f"multi-target tasks are not supported by the offline reasoner"
        )

    y = train[target]
    if len(targets) > 1:
        task = "binary" if len(targets) == 2 else "multiclass"
        output = "proba"
    else:
        task, output = _task(y, metric, sample[targets[0]])

    features = [c for c in test_info.columns if c in train.columns and c not in (target,)]
    columns = tuple(_column(train, c, id_column) for c in features if c != id_column)
    train_only = tuple(c for c in train_info.columns if c not in test_info.columns and c != target)

    classes: tuple[Any, ...] = ()
    shares: tuple[float, ...] = ()
    skew = minimum = None
    integer = False
    if task == "regression":
        values = y.dropna().astype("float64")
        skew = float(values.skew()) if len(values) > 2 else 0.0
        minimum = float(values.min()) if len(values) else None
        integer = bool((values == values.round()).all())
    else:
        counts = y.dropna().value_counts()
        classes = tuple(sorted((_python(v) for v in counts.index), key=lambda v: (str(type(v)), v)))
        total = float(counts.sum()) or 1.0
        shares = tuple(round(float(counts[c]) / total, 4) for c in classes)

    extra = tuple(
        sorted(
            p.name
            for p in root.iterdir()
            if p.is_file()
            and p.name not in {train_info.file, test_info.file, sample_info.file, "description.md"}
        )
    )
    return DataProfile(
        public_dir=str(root),
        metric=metric,
        task=task,
        output=output,
        train=train_info,
        test=test_info,
        sample=sample_info,
        id_column=id_column,
        targets=targets,
        target=target,
        columns=columns,
        classes=classes,
        class_shares=shares,
        target_skew=None if skew is None else round(skew, 4),
        target_min=minimum,
        target_integer=integer,
        train_only=train_only,
        image=_images(root, train, columns),
        extra_files=extra,
    )


def profile_competition(
    public_dir: str | os.PathLike[str],
    metric_name: str,
    lower_is_better: bool | None = None,
    *,
    sample_submission: str = "sample_submission.csv",
) -> DataProfile:
    """Profile the public files under ``public_dir`` (cached per directory and metric).

    Raises :class:`ProfileError` when a table is missing or the target cannot be found.
    """
    root = Path(public_dir).resolve()
    if not root.is_dir():
        raise ProfileError(f"{root} is not a directory of public competition files")
    train = _find_table(root, "train")
    stamp = train.stat().st_mtime_ns if train else 0
    return _profile(str(root), stamp, metric_name, lower_is_better, sample_submission)


def profile_for(competition: Any) -> DataProfile:
    """The profile of a :class:`~gome_core.CompetitionRef`."""
    metric = competition.metric
    return profile_competition(
        competition.public_dir,
        metric.name,
        metric.lower_is_better,
        sample_submission=getattr(competition, "sample_submission", "sample_submission.csv"),
    )
