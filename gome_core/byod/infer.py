"""Inferring a competition from a folder of data and a one-sentence goal.

:func:`infer_task` reads the folder, decides which table is for training and which for testing,
the target, the id column, a date column, the task type and a metric, and returns an
:class:`InferredTask` that records every decision as a :class:`Guess` with the option that
overrides it. When two answers fit equally well it raises
:class:`~gome_core.byod.errors.AmbiguityError` listing them: it never picks silently.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from gome_core.byod.errors import AmbiguityError, ByodError
from gome_core.byod.metrics import TASK_TYPES, MetricSpec, default_metric, get_metric
from gome_core.byod.tables import (
    ImageFolder,
    by_class_table,
    discover_image_folders,
    discover_tables,
    image_coverage,
    image_keys,
    is_date_column,
    label_text,
    read_table,
    table_stem,
)
from gome_core.logs import get_logger

__all__ = ["FLAGS", "NONE", "Guess", "InferredTask", "infer_task", "is_id_like"]

log = get_logger(__name__)

#: The option that overrides each decision (the same names in `gome run` and `gome tasks init`).
FLAGS = {
    "train": "--train FILE",
    "test": "--test FILE (or --test none)",
    "target": "--target COL",
    "id": "--id COL (or --id none)",
    "date": "--date-column COL (or --date-column none)",
    "task_type": "--task-type " + "|".join(TASK_TYPES),
    "metric": "--metric NAME",
    "positive": "--positive-class VALUE",
    "holdout": "--holdout FRACTION",
    "image_column": "--image-column COL",
}
#: The value that turns an optional choice off: ``--test none``, ``--id none``, ...
NONE = "none"
#: Splits: hold out part of the training table; use a labelled test table; or hold out part of
#: the training table and add the rows of an unlabelled test table (predicted, not graded).
SPLITS = ("holdout", "given", "holdout+unlabelled")

MIN_ROWS = 10
#: Column names that usually hold the thing to predict, when the goal names no column.
_GENERIC_TARGETS = {"target", "label", "labels", "y", "class", "outcome", "response", "output"}
#: Name parts that say nothing about what a column holds.
_WEAK_TOKENS = {"id", "no", "num", "nr", "the", "of", "is", "has", "col", "column", "value"}
_QUANTITY = re.compile(
    r"\b(how (many|much)|number of|amount|count|quantity|price|cost|revenue|sales|demand|"
    r"regress\w*|forecast\w*|estimate)\b",
    re.I,
)
_DATE_NAMES = ("date", "ds", "datetime", "timestamp", "time")
_IMAGE_NAME = re.compile(r"(file|image|img|path|picture|photo)", re.I)
_TEST_LIKE = re.compile(r"test", re.I)


@attrs.frozen
class Guess:
    """One decision gome took: what, the value, why, and the option that overrides it."""

    what: str
    value: Any
    why: str
    override_flag: str

    def __str__(self) -> str:
        shown = "none" if self.value is None else self.value
        return f"{self.what}: {shown} ({self.why}; override: {self.override_flag})"


@attrs.frozen
class InferredTask:
    """What gome made of a data folder and a goal; build one with :func:`infer_task`.

    ``split`` is ``"holdout"`` (a share ``holdout`` of the training rows becomes the graded
    test set), ``"given"`` (the test table holds the answers) or ``"holdout+unlabelled"`` (as
    holdout, and the unlabelled test table's rows are added to the test set to be predicted but
    not graded). ``id_column`` is the user's id column (``None``: gome numbers the rows);
    ``classes`` are the target's values as text (``("0", "1")`` for binary, where 1 stands for
    ``positive_class``). Image tasks name their images in ``image_column`` (rows of the tables)
    found in ``image_folder`` (and ``test_image_folder``).
    """

    data_dir: Path
    goal: str
    train_file: str | None
    test_file: str | None
    split: str
    target: str
    id_column: str | None
    task_type: str
    metric: str
    lower_is_better: bool
    classes: tuple[str, ...]
    positive_class: str | None
    date_column: str | None
    train_rows: int
    test_rows: int
    holdout: float
    seed: int
    image_folder: str | None = None
    image_layout: str | None = None
    image_column: str | None = None
    test_image_folder: str | None = None
    train_only: tuple[str, ...] = ()
    guesses: tuple[Guess, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def is_image(self) -> bool:
        return self.image_folder is not None

    @property
    def public_id_column(self) -> str:
        """The id column of the public files: the user's, or ``id`` when gome numbers rows
        (always for images, which are renamed ``<id>.<ext>``)."""
        return "id" if self.id_column is None or self.is_image else self.id_column

    @property
    def metric_spec(self) -> MetricSpec:
        return get_metric(self.metric)

    def settings(self) -> dict[str, Any]:
        """The ``byod`` section of config.yaml: everything prepare and grade need."""
        return {
            "source": str(self.data_dir),
            "goal": self.goal,
            "train": self.train_file,
            "test": self.test_file,
            "split": self.split,
            "holdout": self.holdout,
            "seed": self.seed,
            "target": self.target,
            "id_column": self.id_column,
            "task_type": self.task_type,
            "classes": list(self.classes),
            "positive_class": self.positive_class,
            "date_column": self.date_column,
            "image_folder": self.image_folder,
            "image_layout": self.image_layout,
            "image_column": self.image_column,
            "test_image_folder": self.test_image_folder,
            "train_only": list(self.train_only),
        }

    def report(self) -> list[str]:
        """Each guess and note as a line for a person."""
        return [f"  {g}" for g in self.guesses] + [f"  note: {n}" for n in self.notes]


# --------------------------------------------------------------------------- names and words


def _tokens(text: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", text)
    words = [w for w in re.split(r"[^a-z0-9]+", spaced.lower()) if w]
    return [_stem(w) for w in words]


def _stem(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _goal_score(column: str, goal_tokens: set[str]) -> float:
    """How strongly the goal names ``column``: 3+ every word of the name, 1-2 some words,
    0.5 a generic target name (``target``, ``label``) the goal does not name, else 0."""
    words = [t for t in _tokens(column) if t not in _WEAK_TOKENS]
    hits = [w in goal_tokens for w in words]
    if words and all(hits):
        return 3.0 + 0.1 * len(words)
    if any(hits):
        return 1.0 + sum(hits) / len(words)
    return 0.5 if column.strip().lower() in _GENERIC_TARGETS else 0.0


def is_id_like(name: str) -> bool:
    """Whether a column's name says it is an identifier (``id``, ``customer_id``,
    ``PassengerId``, ``userID``, ``uuid``, ``Unnamed: 0``)."""
    lower = name.strip().lower()
    return (
        lower in {"id", "uuid", "guid", "rowid", "row_id", "index"}
        or lower.endswith(("_id", "-id", " id", ".id"))
        or re.search(r"[a-z0-9](Id|ID)$", name.strip()) is not None
        or re.fullmatch(r"Unnamed: ?\d+", name.strip()) is not None
    )


def _unique(series: Any) -> bool:
    return bool(series.notna().all() and series.is_unique)


def _is_none(value: str | None) -> bool:
    return value is not None and value.strip().lower() == NONE


def _close(name: str, options: Sequence[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(options), n=3, cutoff=0.6)
    return f" Did you mean {', '.join(f'`{c}`' for c in close)}?" if close else ""


def _require_column(name: str, columns: Sequence[str], flag: str, where: str) -> None:
    if name not in columns:
        raise ByodError(
            f"{flag.split()[0]} {name!r}: {where} has no such column.{_close(name, columns)} "
            f"Its columns: {', '.join(f'`{c}`' for c in columns)}."
        )


# --------------------------------------------------------------------------- the inference


@attrs.define
class _State:
    """What is known so far, while inferring (mutable; the result is frozen)."""

    root: Path
    goal: str
    goal_tokens: set[str]
    guesses: list[Guess] = attrs.Factory(list)
    notes: list[str] = attrs.Factory(list)

    def guess(self, what: str, value: Any, why: str, flag: str) -> None:
        self.guesses.append(Guess(what, value, why, flag))


def infer_task(
    data_dir: str | Path,
    goal: str,
    target: str | None = None,
    metric: str | None = None,
    id_column: str | None = None,
    *,
    date_column: str | None = None,
    task_type: str | None = None,
    positive_class: str | None = None,
    train_file: str | None = None,
    test_file: str | None = None,
    image_column: str | None = None,
    holdout: float = 0.2,
    seed: int = 0,
) -> InferredTask:
    """Infer a competition from the tables (and images) in ``data_dir`` and the ``goal``.

    Every argument after ``goal`` overrides one decision; ``"none"`` turns off an optional one
    (``id_column="none"``: gome numbers the rows; ``date_column="none"``: no time split;
    ``test_file="none"``: ignore a test table). Raises :class:`ByodError` for a folder that
    cannot be used and :class:`AmbiguityError` when two answers fit equally well.
    """
    root = Path(data_dir).expanduser().resolve()
    if not root.is_dir():
        raise ByodError(f"--data {data_dir}: no such folder. Give the folder holding train.csv.")
    if not goal or not goal.strip():
        raise ByodError('--goal is empty: say in a sentence what to predict, e.g. "predict churn".')
    if not 0 < holdout <= 0.9:
        raise ByodError(f"--holdout {holdout}: the held-out share must be above 0 and at most 0.9.")
    state = _State(root, goal.strip(), set(_tokens(goal)))

    folders = discover_image_folders(root)
    train_name, test_name, by_class = _choose_tables(state, train_file, test_file, folders)

    image_col = image_folder = test_image_folder = layout = None
    if by_class is not None:
        image_col, layout, image_folder = "image", "by-class", by_class.path
        train = by_class_table(root, by_class.path, image_col, "label")
        state.guess(
            "images",
            f"{by_class.path}/ ({by_class.count} images in {len(by_class.classes)} class folders)",
            "no table, and each sub-folder's name is its images' class",
            "add a labels table, e.g. labels.csv with columns file,label",
        )
        if target is not None and target != "label":
            raise ByodError(
                f"--target {target}: images sorted into class folders have one target, their "
                f"folder's name, called `label`; drop --target."
            )
        target = "label"
    else:
        train = read_table(root / train_name)
    test = read_table(root / test_name) if test_name else None
    columns = [str(c) for c in train.columns]
    train.columns, test_columns = columns, None
    if test is not None:
        test.columns = test_columns = [str(c) for c in test.columns]

    if folders and by_class is None:
        found = _image_column(state, train, test, folders, image_column)
        if found is not None:
            image_col, image_folder, test_image_folder = found
            layout = "table"
    elif image_column is not None and by_class is None:
        raise ByodError(f"--image-column {image_column}: {root} has no folder of images.")

    if test is None and image_folder is not None and test_image_folder is None:
        test_image_folder = _unlabelled_image_folder(state, folders, image_folder, test_file)
        if test_image_folder is not None:
            import pandas as pd

            from gome_core.byod.tables import list_images

            test = pd.DataFrame({image_col: list_images(root, test_image_folder)})
            test_columns = [image_col]

    if test_columns is not None:
        extra = [c for c in test_columns if c not in columns]
        if extra:
            raise AmbiguityError(
                "test table",
                f"the columns of {test_name} do not match {train_name}: {test_name} has "
                f"{', '.join(f'`{c}`' for c in extra)}, which {train_name} lacks. Rename them "
                f"to match, name another test table, or hold out part of the training table "
                f"instead.",
                [n for n in discover_tables(root) if n != train_name] + [NONE],
                FLAGS["test"],
            )

    id_like = {c for c in columns if is_id_like(c) and _unique(train[c])}
    table_columns = test_columns if test_name else None  # not a folder of test images
    target = _choose_target(state, train, table_columns, target, id_like, image_col, train_name)
    y_all = train[target]
    labelled = y_all.notna()
    missing = int((~labelled).sum())
    if missing:
        state.notes.append(
            f"{missing} row(s) of the training table have no `{target}`; they are left out."
        )
    y = y_all[labelled]
    if len(y) < MIN_ROWS:
        raise ByodError(
            f"only {len(y)} training row(s) have a value of `{target}`; a competition needs at "
            f"least {MIN_ROWS}."
        )

    if test is None:
        split, test_rows = "holdout", 0
    elif target in (test_columns or ()):
        split, test_rows = "given", len(test)
        state.guess(
            "test set",
            f"{test_name} ({len(test)} rows, with answers)",
            f"{test_name} has the column `{target}`, so its rows are graded",
            FLAGS["test"],
        )
    else:
        split, test_rows = "holdout+unlabelled", len(test)

    ident = _choose_id(state, train, test, split, id_column, target, image_col)
    date = _choose_date(state, train, date_column, {target, ident, image_col})
    kind = _choose_task_type(state, y, task_type, date, target)
    positive = _choose_positive(state, y, positive_class, target) if kind == "binary" else None
    spec = _choose_metric(state, y, metric, kind, target)
    classes: tuple[str, ...] = ()
    if kind == "binary":
        classes = ("0", "1")
    elif kind == "multiclass":
        classes = tuple(sorted(set(label_text(y).tolist()), key=_natural))

    if split != "given":
        from gome_core.byod.build import holdout_mask

        labelled_rows = train[labelled].reset_index(drop=True)
        held = int(
            holdout_mask(
                labelled_rows,
                target=target,
                task_type=kind,
                date_column=date,
                holdout=holdout,
                seed=seed,
            ).sum()
        )
        how = (
            f"the latest {holdout:.0%} by `{date}`"
            if date
            else f"{holdout:.0%} at random"
            + (", stratified by class" if kind in ("binary", "multiclass") else "")
        )
        extra_rows = (
            f"; the {test_rows} rows of {test_name or test_image_folder + '/'} are added to the "
            f"test set to be predicted, not graded (they have no answers)"
            if split == "holdout+unlabelled"
            else ""
        )
        state.guess(
            "held-out test set",
            f"{held} of {len(y)} training rows",
            f"{'no test table, so ' if test is None else ''}gome holds out {how}{extra_rows}",
            FLAGS["holdout"] + (" or --test FILE" if test is None else ""),
        )
        if len(y) - held < 5:
            raise ByodError(
                f"holding out {held} of {len(y)} rows leaves too few to train on; lower "
                f"--holdout or add data."
            )

    train_only: tuple[str, ...] = ()
    if test_columns is not None:
        train_only = tuple(
            c for c in columns if c not in test_columns and c not in (target, image_col)
        )
        if train_only:
            state.notes.append(
                f"{', '.join(f'`{c}`' for c in train_only)} are in the training table but not "
                f"in the test table; they stay in train.csv and are left out of test.csv."
            )

    log.debug("inferred task", data_dir=str(root), target=target, task_type=kind, split=split)
    return InferredTask(
        data_dir=root,
        goal=state.goal,
        train_file=train_name,
        test_file=test_name,
        split=split,
        target=target,
        id_column=ident,
        task_type=kind,
        metric=spec.name,
        lower_is_better=spec.lower_is_better,
        classes=classes,
        positive_class=positive,
        date_column=date,
        train_rows=len(y),
        test_rows=test_rows,
        holdout=float(holdout),
        seed=int(seed),
        image_folder=image_folder,
        image_layout=layout,
        image_column=image_col,
        test_image_folder=test_image_folder,
        train_only=train_only,
        guesses=tuple(state.guesses),
        notes=tuple(state.notes),
    )


def _natural(text: str) -> tuple[int, float, str]:
    """Sort numbers as numbers, then text."""
    try:
        return (0, float(text), "")
    except ValueError:
        return (1, 0.0, text)


# --------------------------------------------------------------------------- tables


def _choose_tables(
    state: _State, train_file: str | None, test_file: str | None, folders: list[ImageFolder]
) -> tuple[str | None, str | None, ImageFolder | None]:
    """(training table, test table, by-class image folder used instead of a table)."""
    root = state.root
    tables = discover_tables(root)

    def existing(name: str, flag: str) -> str:
        if not (root / name).is_file():
            raise ByodError(
                f"{flag} {name}: no such file in {root}.{_close(name, tables)} Tables there: "
                f"{', '.join(tables) or 'none'}."
            )
        return name

    def named(prefix: str) -> list[str]:
        return [t for t in tables if table_stem(t).lower().startswith(prefix)]

    if train_file is not None:
        train = existing(train_file, "--train")
        state.guess("training table", train, "set explicitly", FLAGS["train"])
    else:
        trains = named("train")
        others = [t for t in tables if t not in named("test")]
        if len(trains) == 1:
            train = trains[0]
            why = "named like a training table"
        elif len(trains) > 1:
            raise AmbiguityError(
                "training table", f"{root} holds several training tables.", trains, FLAGS["train"]
            )
        elif len(others) == 1:
            train = others[0]
            why = "the only table that is not a test table"
        elif not tables:
            by_class = [f for f in folders if f.layout == "by-class"]
            if len(by_class) == 1:
                return None, None, by_class[0]
            if len(by_class) > 1:
                raise AmbiguityError(
                    "image folder",
                    f"{root} holds no table and several folders of class sub-folders.",
                    [f.path for f in by_class],
                    "a labels table (e.g. labels.csv with columns file,label) or by moving "
                    "the others out of the folder",
                )
            raise ByodError(
                f"{root} holds no table (.csv, .csv.gz, .tsv, .parquet, .pq) and no folder of "
                f"images sorted into class sub-folders. Put train.csv there (and test.csv if "
                f"you have one), or an images/ folder with a labels.csv."
            )
        else:
            raise AmbiguityError(
                "training table",
                f"{root} holds several tables and none is named train.*.",
                others,
                FLAGS["train"],
            )
        state.guess("training table", train, why, FLAGS["train"])

    test: str | None = None
    if _is_none(test_file):
        state.guess("test table", None, "turned off", "--test FILE")
    elif test_file is not None:
        test = existing(test_file, "--test")
        state.guess("test table", test, "set explicitly", FLAGS["test"])
    else:
        tests = [t for t in named("test") if t != train]
        if len(tests) > 1:
            raise AmbiguityError(
                "test table", f"{root} holds several test tables.", tests, FLAGS["test"]
            )
        if tests:
            test = tests[0]
            state.guess("test table", test, "named like a test table", FLAGS["test"])
    return train, test, None


def _image_column(
    state: _State,
    train: Any,
    test: Any,
    folders: list[ImageFolder],
    explicit: str | None,
) -> tuple[str, str, str | None] | None:
    """(image column, folder of the training images, folder of the test images) when a column
    of the training table names image files; None for a purely tabular task."""
    keys = {f.path: image_keys(state.root, f) for f in folders}
    columns = [explicit] if explicit is not None else [str(c) for c in train.columns]
    if explicit is not None:
        _require_column(explicit, list(train.columns), "--image-column", "the training table")
    matches: dict[str, tuple[float, str]] = {}
    for column in columns:
        values = train[column]
        if values.dtype.kind not in "OUiu" and str(values.dtype) not in ("string", "str"):
            continue
        cover = {f: image_coverage(values, k) for f, k in keys.items()}
        best = _best_folder(cover, prefer_test=False)
        if best is not None and cover[best] >= 0.9:
            matches[column] = (cover[best], best)
    if not matches:
        if explicit is not None:
            raise ByodError(
                f"--image-column {explicit}: its values do not name the images in "
                f"{', '.join(keys)} (give file names, paths or names without extension)."
            )
        state.notes.append(
            f"the folder(s) {', '.join(f + '/' for f in keys)} hold images, but no column of "
            f"the training table names them; the task is treated as tabular."
        )
        return None
    if len(matches) > 1:
        hinted = [c for c in matches if _IMAGE_NAME.search(c)]
        if len(hinted) != 1:
            raise AmbiguityError(
                "image column",
                "several columns of the training table name image files.",
                list(matches),
                FLAGS["image_column"],
            )
        column = hinted[0]
    else:
        column = next(iter(matches))
    share, folder = matches[column]
    state.guess(
        "images",
        f"column `{column}` names the images in {folder}/",
        f"{share:.0%} of its values are image files there",
        FLAGS["image_column"],
    )
    test_folder = None
    if test is not None:
        if column not in test.columns:
            raise ByodError(
                f"the test table has no column `{column}`, which names the training images; "
                f"give it the same column naming the test images."
            )
        cover = {f: image_coverage(test[column], k) for f, k in keys.items()}
        test_folder = _best_folder(cover, prefer_test=True)
        if test_folder is None or cover[test_folder] < 0.9:
            raise ByodError(
                f"the values of `{column}` in the test table do not name images in "
                f"{', '.join(f + '/' for f in keys)}; fix the test table or the folders."
            )
    return column, folder, test_folder


def _best_folder(cover: dict[str, float], *, prefer_test: bool) -> str | None:
    if not cover or max(cover.values()) == 0:
        return None
    top = max(cover.values())
    best = [f for f, c in cover.items() if c == top]
    preferred = [f for f in best if bool(_TEST_LIKE.search(f)) == prefer_test]
    return (preferred or best)[0]


def _unlabelled_image_folder(
    state: _State, folders: list[ImageFolder], train_folder: str, test_file: str | None
) -> str | None:
    if _is_none(test_file):
        return None
    tests = [
        f.path
        for f in folders
        if f.layout == "flat" and f.path != train_folder and _TEST_LIKE.search(f.path)
    ]
    if len(tests) > 1:
        raise AmbiguityError(
            "test images",
            "several folders look like folders of test images.",
            tests,
            "--test none (ignore them) or by moving all but one out of the folder",
        )
    if not tests:
        return None
    state.guess(
        "test images",
        f"{tests[0]}/ (unlabelled)",
        "a folder of images named like a test folder",
        "--test none",
    )
    return tests[0]


# --------------------------------------------------------------------------- columns


def _choose_target(
    state: _State,
    train: Any,
    test_columns: list[str] | None,
    explicit: str | None,
    id_like: set[str],
    image_col: str | None,
    train_name: str | None,
) -> str:
    columns = [str(c) for c in train.columns]
    where = train_name or "the training table"
    if explicit is not None:
        _require_column(explicit, columns, "--target", where)
        state.guess("target", explicit, "set explicitly", FLAGS["target"])
        return explicit
    usable = [
        c
        for c in columns
        if c not in id_like and c != image_col and train[c].nunique(dropna=True) > 1
    ]
    if test_columns is not None:
        absent = [c for c in usable if c not in test_columns]
        if len(absent) == 1:
            state.guess(
                "target",
                absent[0],
                f"the only column of {where} that the test table lacks",
                FLAGS["target"],
            )
            return absent[0]
        if absent:
            return _by_goal(state, train, absent, f"columns of {where} absent from the test table")
    return _by_goal(state, train, usable, f"columns of {where}")


def _value_score(values: Any, goal_tokens: set[str]) -> float:
    """2.5 when the goal names one of a categorical column's values ("whether the tumour is
    malignant" names a value of `diagnosis`), else 0."""
    import pandas as pd

    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return 0.0
    levels = values.dropna().astype(str).unique()
    if len(levels) > 20:
        return 0.0
    for level in levels:
        words = set(_tokens(level)) - _WEAK_TOKENS
        if words and words <= goal_tokens and not any(w.isdigit() for w in words):
            return 2.5
    return 0.0


def _by_goal(state: _State, train: Any, candidates: list[str], pool: str) -> str:
    scores = {
        c: max(_goal_score(c, state.goal_tokens), _value_score(train[c], state.goal_tokens))
        for c in candidates
    }
    top = max(scores.values(), default=0.0)
    if top <= 0:
        raise AmbiguityError(
            "target",
            f"the goal {state.goal!r} names none of the {pool} (nor one of their values), and "
            f"none is called like a target (target, label, y, class, ...), so gome cannot "
            f"tell what to predict.",
            candidates,
            FLAGS["target"],
        )
    best = [c for c, s in scores.items() if s == top]
    if len(best) > 1:
        raise AmbiguityError(
            "target",
            f"the goal {state.goal!r} fits several {pool} equally well.",
            best,
            FLAGS["target"],
        )
    choice = best[0]
    if top >= 3:
        why = "the goal names it"
    elif top == 2.5:
        why = "the goal names one of its values"
    elif top >= 1:
        why = "the goal names part of its name"
    else:
        why = "named like a target column, and the goal names no column"
    if "absent" in pool:
        why += f"; it is among the {pool}"
    state.guess("target", choice, why, FLAGS["target"])
    return choice


def _choose_id(
    state: _State,
    train: Any,
    test: Any,
    split: str,
    explicit: str | None,
    target: str,
    image_col: str | None,
) -> str | None:
    import pandas as pd

    def unique_everywhere(column: str) -> bool:
        """Unique in the training table and, with a test table, across both tables."""
        if not _unique(train[column]):
            return False
        if test is None:
            return True
        both = pd.concat([train[column], test[column]], ignore_index=True)
        return column in test.columns and _unique(both)

    if _is_none(explicit):
        state.guess("id column", None, "turned off: gome numbers the rows as `id`", "--id COL")
        return None
    if explicit is not None:
        _require_column(explicit, list(train.columns), "--id", "the training table")
        if explicit == target:
            raise ByodError(f"--id {explicit}: that is the target column; choose another.")
        if test is not None and explicit not in test.columns:
            raise ByodError(f"--id {explicit}: the test table has no such column.")
        if not unique_everywhere(explicit):
            raise AmbiguityError(
                "id column",
                f"--id {explicit}: the column is not unique (repeated or missing values"
                f"{' across the training and test tables' if test is not None else ''}), so "
                f"it cannot name rows.",
                _unique_candidates(train, test, target, image_col, unique_everywhere) + [NONE],
                FLAGS["id"],
            )
        state.guess("id column", explicit, "set explicitly", FLAGS["id"])
        return explicit
    named = [
        str(c)
        for c in train.columns
        if is_id_like(str(c)) and c not in (target, image_col) and (test is None or c in test)
    ]
    unique = [c for c in named if unique_everywhere(c)]
    plain_id = [c for c in named if c.strip().lower() == "id"]
    if plain_id and plain_id[0] not in unique:
        column = plain_id[0]
        repeats = train[column][train[column].duplicated()].head(3).tolist()
        raise AmbiguityError(
            "id column",
            f"the column `{column}` looks like the row id but is not unique (repeated or "
            f"missing values, e.g. {', '.join(map(repr, repeats)) or 'in the test table'}).",
            _unique_candidates(train, test, target, image_col, unique_everywhere) + [NONE],
            FLAGS["id"] + "; `--id none` lets gome number the rows",
        )
    if len(unique) > 1:
        if plain_id:
            unique = plain_id
        else:
            raise AmbiguityError(
                "id column", "several unique columns are named like ids.", unique, FLAGS["id"]
            )
    if not unique:
        why = "no unique column is named like an id (id, *_id, *Id)"
        if image_col is not None:
            why = "image tasks number their rows; the images are renamed <id>.<ext>"
        state.guess("id column", None, f"{why}; gome numbers the rows as `id`", "--id COL")
        return None
    column = unique[0]
    why = "named like an id and unique"
    if image_col is not None:
        why += "; kept to map predictions back, while the images are renamed <id>.<ext>"
    state.guess("id column", column, why, FLAGS["id"])
    return column


def _unique_candidates(
    train: Any, test: Any, target: str, image_col: str | None, check: Any
) -> list[str]:
    return [
        str(c)
        for c in train.columns
        if c not in (target, image_col) and (test is None or c in test) and check(str(c))
    ]


def _choose_date(state: _State, train: Any, explicit: str | None, skip: set[Any]) -> str | None:
    if _is_none(explicit):
        state.guess("date column", None, "turned off: no split by time", "--date-column COL")
        return None
    if explicit is not None:
        _require_column(explicit, list(train.columns), "--date-column", "the training table")
        if not is_date_column(train[explicit]):
            raise ByodError(
                f"--date-column {explicit}: its values do not read as dates (e.g. "
                f"{train[explicit].dropna().head(3).tolist()})."
            )
        state.guess("date column", explicit, "set explicitly", FLAGS["date"])
        return explicit
    dates = [str(c) for c in train.columns if c not in skip and is_date_column(train[c])]
    if len(dates) > 1:
        named = [c for c in dates if c.strip().lower() in _DATE_NAMES]
        if len(named) != 1:
            raise AmbiguityError(
                "date column",
                "several columns hold dates; gome splits by time along one of them.",
                [*dates, NONE],
                FLAGS["date"],
            )
        dates = named
    if not dates:
        return None
    state.guess(
        "date column",
        dates[0],
        "its values are dates: the test set is the latest rows (a split by time)",
        FLAGS["date"],
    )
    return dates[0]


def _choose_task_type(
    state: _State, y: Any, explicit: str | None, date: str | None, target: str
) -> str:
    import pandas as pd

    numeric = pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(y)
    k = int(y.nunique())
    if explicit is not None:
        kind = explicit.strip().lower().replace("-", "")
        kind = {"multiclass": "multiclass", "classification": "multiclass"}.get(kind, kind)
        if kind not in TASK_TYPES:
            raise ByodError(f"--task-type {explicit}: choose one of {', '.join(TASK_TYPES)}.")
        if kind == "binary" and k != 2:
            raise ByodError(f"--task-type binary: `{target}` has {k} distinct values, not 2.")
        if kind in ("regression", "forecasting") and not numeric:
            raise ByodError(
                f"--task-type {kind}: `{target}` is not numeric (e.g. "
                f"{y.head(3).tolist()}); choose binary or multiclass."
            )
        if kind == "forecasting" and date is None:
            raise ByodError(
                "--task-type forecasting needs a date column; name it with --date-column COL."
            )
        state.guess("task type", kind, "set explicitly", FLAGS["task_type"])
        return kind
    integral = numeric and bool((y == y.round()).all())
    if k < 2:
        raise ByodError(
            f"`{target}` takes one value only ({y.iloc[0]!r}): there is nothing to predict. "
            f"Name the column to predict with --target COL."
        )
    if k == 2:
        kind, why = "binary", f"`{target}` takes two values"
    elif not numeric:
        if k > max(50, 0.5 * len(y)):
            raise ByodError(
                f"`{target}` holds {k} distinct non-numeric values in {len(y)} rows: it looks "
                f"like text or an identifier, not something to classify. Name the column to "
                f"predict with --target COL."
            )
        kind, why = "multiclass", f"`{target}` takes {k} non-numeric values"
    elif integral and k <= 20 and not _QUANTITY.search(state.goal):
        kind, why = "multiclass", f"`{target}` takes {k} whole-number values"
    else:
        kind = "regression"
        why = (
            f"`{target}` holds numbers ({k} distinct values)"
            if not integral or k > 20
            else f"`{target}` holds whole numbers and the goal asks for a quantity"
        )
    if kind == "regression" and date is not None:
        kind, why = "forecasting", f"{why} and the table has the date column `{date}`"
    state.guess("task type", kind, why, FLAGS["task_type"])
    return kind


def _choose_positive(state: _State, y: Any, explicit: str | None, target: str) -> str:
    texts = label_text(y)
    values = sorted(set(texts.tolist()), key=_natural)
    if explicit is not None:
        if explicit not in values:
            raise ByodError(
                f"--positive-class {explicit}: `{target}` takes the values "
                f"{', '.join(repr(v) for v in values)}."
            )
        state.guess("positive class", explicit, "set explicitly", FLAGS["positive"])
        return explicit
    lowered = {v.lower(): v for v in values}
    for word in ("1", "true", "yes", "y", "t", "positive", "pos"):
        if word in lowered:
            choice = lowered[word]
            why = f"`{target}` holds {values[0]!r}/{values[1]!r} and {choice!r} reads as yes"
            break
    else:
        mentioned = [v for v in values if set(_tokens(v)) and set(_tokens(v)) <= state.goal_tokens]
        counts = texts.value_counts()
        if len(mentioned) == 1:
            choice, why = mentioned[0], "the goal names it"
        elif counts.iloc[0] != counts.iloc[-1]:
            choice = str(counts.index[-1])
            why = f"the rarer of {values[0]!r}/{values[1]!r}, as the event to detect usually is"
        else:
            raise AmbiguityError(
                "positive class",
                f"`{target}` takes the values {values[0]!r} and {values[1]!r} equally often and "
                f"the goal names neither, so gome cannot tell which one to score as 1.",
                values,
                FLAGS["positive"],
            )
    state.guess("positive class", choice, f"{why}; it is encoded as 1", FLAGS["positive"])
    return choice


def _choose_metric(
    state: _State, y: Any, explicit: str | None, kind: str, target: str
) -> MetricSpec:
    if explicit is None:
        spec, why = default_metric(kind, y)
    else:
        spec, why = get_metric(explicit), "set explicitly"
        if kind not in spec.task_types:
            raise ByodError(
                f"--metric {spec.name} scores {'/'.join(spec.task_types)} tasks, but `{target}` "
                f"is a {kind} target. Choose a metric for {kind} tasks ("
                + ", ".join(s for s in _metrics_for(kind))
                + f") or set the task type with {FLAGS['task_type']}."
            )
        if spec.name == "rmsle" and float(y.min()) < 0:
            raise ByodError(
                f"--metric rmsle needs a target >= 0, and `{target}` goes down to "
                f"{float(y.min())}; choose rmse or mae."
            )
    state.guess(
        "metric",
        f"{spec.name} ({'lower' if spec.lower_is_better else 'higher'} is better)",
        why,
        FLAGS["metric"],
    )
    return spec


def _metrics_for(kind: str) -> list[str]:
    from gome_core.byod.metrics import METRICS

    return [name for name, s in METRICS.items() if kind in s.task_types]
