"""What the ``prepare.py`` and ``grade.py`` of a competition built from your data run.

Both read the competition's ``config.yaml``: ``grader.name`` is the metric and the ``byod``
section says where the data came from and how it is split (see
:meth:`~gome_core.byod.infer.InferredTask.settings`). Editing that section and preparing again
(``gome tasks prepare ID --force``, or ``gome run --competition-from``) rebuilds the split.

:func:`prepare_from_config` copies the user's files into ``raw`` (hard links where the file
system allows), then writes, deterministically for a given seed:

- ``public/train.csv``: the training rows (all columns; a binary target encoded 0/1);
- ``public/test.csv``: the test rows without the target (and without columns the user's test
  table lacks);
- ``public/sample_submission.csv``: the id and a constant prediction (the dummy baseline's);
- ``public/train/<id>.<ext>``, ``public/test/<id>.<ext>``: the images of an image task;
- ``private/test.csv``: the id and the answer of each test row, empty for rows of an unlabelled
  test table (predicted, never graded);
- ``private/user_test.csv``: where each row of the user's own test table went (``row``, its
  position there; ``public_id``, its id in test.csv; the user's id and image columns), so
  predictions can be mapped back.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from gome_core.byod.errors import ByodError
from gome_core.byod.metrics import get_metric
from gome_core.byod.tables import by_class_table, label_text, list_images, read_table
from gome_core.competitions.metrics import align_submission
from gome_core.competitions.preparation import test_mask, write_csv, write_public_private
from gome_core.competitions.sources import sha256_file
from gome_core.logs import get_logger

__all__ = [
    "USER_TEST",
    "encode_target",
    "grade_from_config",
    "holdout_mask",
    "prepare_from_config",
    "public_id_column",
    "read_config",
]

log = get_logger(__name__)

#: The private file mapping test rows back to the user's own test table.
USER_TEST = "user_test.csv"
_PART, _ROW, _USER_ID, _IMAGE = "__part", "__row", "__user_id", "__image"


def read_config(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(config, byod settings)`` of a competition's config.yaml."""
    import yaml

    config = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    settings = config.get("byod") if isinstance(config, dict) else None
    if not isinstance(settings, dict):
        raise ByodError(
            f"{path} has no `byod` section: it was not written by gome from a folder of data. "
            f"Use `gome run --task ID --competitions-dir DIR` for other competitions."
        )
    return config, settings


def public_id_column(settings: dict[str, Any]) -> str:
    """The id column of the public files (``id`` unless the user's own id is kept)."""
    if settings.get("id_column") is None or settings.get("image_folder") is not None:
        return "id"
    return str(settings["id_column"])


def encode_target(values: Any, settings: dict[str, Any]) -> Any:
    """The target as the competition stores it: 1/0 for binary (1 = the positive class),
    whole numbers as integers, missing values kept missing."""
    import pandas as pd

    kind = settings["task_type"]
    present = values.notna()
    if kind == "binary":
        texts = label_text(values[present])
        out = pd.Series(pd.NA, index=values.index, dtype="Int64")
        out[present] = (texts.to_numpy() == str(settings["positive_class"])).astype("int64")
        return out
    if kind == "multiclass" and pd.api.types.is_numeric_dtype(values):
        numbers = values[present]
        if bool((numbers == numbers.round()).all()):
            return values.astype("Int64")
    return values


# --------------------------------------------------------------------------- raw data


def _link_or_copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _stage_raw(settings: dict[str, Any], raw: Path) -> None:
    """Copy the files the settings name from the source folder into ``raw`` (once)."""
    source = Path(settings["source"])
    needed = [settings.get("train"), settings.get("test")]
    folders = [settings.get("image_folder"), settings.get("test_image_folder")]
    for name in needed:  # a table changed since it was copied is copied again
        if name and (raw / name).is_file() and (source / name).is_file():
            old, new = (raw / name).stat(), (source / name).stat()
            if (old.st_size, old.st_mtime_ns) != (new.st_size, new.st_mtime_ns):
                (raw / name).unlink()
    missing = [n for n in needed if n and not (raw / n).is_file()]
    missing += [f for f in folders if f and not (raw / f).is_dir()]
    if not missing:
        return
    if not source.is_dir():
        raise ByodError(
            f"the data folder {source} no longer exists; point `byod.source` in config.yaml at "
            f"the folder holding {', '.join(missing)}, then prepare again."
        )
    lines = []
    for name in needed:
        if name and not (raw / name).is_file():
            if not (source / name).is_file():
                raise ByodError(f"{source / name} does not exist; fix `byod` in config.yaml.")
            _link_or_copy(source / name, raw / name)
            lines.append(f"{name}\t{source / name}\tsha256={sha256_file(raw / name)}")
    for folder in folders:
        if folder and not (raw / folder).is_dir():
            src = source / folder
            if folder == ".":
                for rel in list_images(source, "."):
                    _link_or_copy(source / rel, raw / rel)
            else:
                shutil.copytree(src, raw / folder, copy_function=_link_copy_fn, dirs_exist_ok=True)
            lines.append(f"{folder}/\t{src}\timages")
    with (raw / "SOURCE.txt").open("a", encoding="utf-8") as fh:
        fh.write("".join(line + "\n" for line in lines))


def _link_copy_fn(src: str, dst: str) -> None:
    _link_or_copy(Path(src), Path(dst))


def _load(raw: Path, settings: dict[str, Any]) -> tuple[Any, Any]:
    import pandas as pd

    image_col = settings.get("image_column")
    if settings.get("image_layout") == "by-class":
        train = by_class_table(raw, settings["image_folder"], image_col, settings["target"])
    else:
        train = read_table(raw / settings["train"])
    test = read_table(raw / settings["test"]) if settings.get("test") else None
    if test is None and settings.get("test_image_folder"):
        test = pd.DataFrame({image_col: list_images(raw, settings["test_image_folder"])})
    train.columns = [str(c) for c in train.columns]
    if test is not None:
        test.columns = [str(c) for c in test.columns]
    return train, test


# --------------------------------------------------------------------------- the split


def _times(values: Any) -> Any:
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(values):
        return values
    return pd.to_datetime(values, errors="coerce", format="mixed")


def holdout_mask(
    frame: Any,
    *,
    target: str,
    task_type: str,
    date_column: str | None,
    holdout: float,
    seed: int,
) -> Any:
    """Which training rows are held out: the latest share ``holdout`` by ``date_column``
    (rows of one date stay together; rows without a date are never held out), else a seeded
    random share, stratified by class for classification."""
    import numpy as np

    n = len(frame)
    if date_column:
        times = _times(frame[date_column])
        known = np.sort(times.dropna().to_numpy(dtype="datetime64[ns]"))
        if len(known) < 2:
            raise ByodError(f"`{date_column}` holds fewer than two dates; pass --date-column none.")
        count = min(len(known) - 1, max(1, round(len(known) * holdout)))
        mask = (times >= known[len(known) - count]).fillna(False).to_numpy(dtype=bool)
        if mask[times.notna().to_numpy()].all():
            raise ByodError(
                f"every row has the same `{date_column}`, so a split by time would hold out "
                f"everything; pass --date-column none."
            )
        return mask
    if task_type in ("binary", "multiclass"):
        return test_mask(n, holdout, seed, stratify=label_text(frame[target]))
    return test_mask(n, holdout, seed)


def _settings_mask(frame: Any, settings: dict[str, Any]) -> Any:
    return holdout_mask(
        frame,
        target=settings["target"],
        task_type=settings["task_type"],
        date_column=settings.get("date_column"),
        holdout=float(settings["holdout"]),
        seed=int(settings["seed"]),
    )


def _ordered(union: Any, settings: dict[str, Any]) -> Any:
    """Rows by time when there is a date column, else in a seeded random order, so that row
    positions say nothing about the answers."""
    import numpy as np

    date = settings.get("date_column")
    if date:
        order = np.argsort(_times(union[date]).to_numpy(dtype="datetime64[ns]"), kind="stable")
    else:
        order = np.random.default_rng(int(settings["seed"])).permutation(len(union))
    return union.iloc[order].reset_index(drop=True)


def _sample_values(train_target: Any, settings: dict[str, Any], metric: Any) -> dict[str, Any]:
    """The constant prediction of the sample submission: the dummy baseline's."""
    classes = [str(c) for c in settings.get("classes") or []]
    if metric.output == "class-proba":
        return {c: round(1 / len(classes), 6) for c in classes}
    if metric.output == "proba":
        return {settings["target"]: round(float(train_target.astype("float64").mean()), 5)}
    if metric.output == "label":
        return {settings["target"]: train_target.mode().iloc[0]}
    return {settings["target"]: round(float(train_target.astype("float64").mean()), 5)}


def prepare_from_config(config_path: Path, *, raw: Path, public: Path, private: Path) -> None:
    """Build the public and private files from the user's data; see the module docstring."""
    import numpy as np
    import pandas as pd

    config, s = read_config(config_path)
    metric = get_metric(str(config["grader"]["name"]))
    _stage_raw(s, raw)
    train, test = _load(raw, s)
    target, idc = s["target"], public_id_column(s)
    image_col, user_id = s.get("image_column"), s.get("id_column")
    if image_col:  # kept aside: it may share its name with the id gome assigns
        train = train.rename(columns={image_col: _IMAGE})
        test = None if test is None else test.rename(columns={image_col: _IMAGE})
    train = train[train[target].notna()].reset_index(drop=True)
    train[target] = encode_target(train[target], s)

    if test is not None:
        test = test.assign(**{_ROW: np.arange(len(test))})
        if target in test.columns:
            test[target] = encode_target(test[target], s)
        else:
            test[target] = pd.Series(pd.NA, index=test.index, dtype=train[target].dtype)
        test[_PART] = np.where(test[target].notna(), "held", "user")
    if s["split"] == "given":
        keep, tested = train, test
    else:
        mask = _settings_mask(train, s)
        keep = train[~mask]
        held = train[mask].assign(**{_PART: "held"})
        tested = held if test is None else pd.concat([held, test], ignore_index=True)
    union = pd.concat([keep.assign(**{_PART: "train"}), tested], ignore_index=True)
    union = _ordered(union, s)
    if idc == "id":
        if user_id is not None:
            union = union.rename(columns={user_id: _USER_ID})
        elif "id" in union.columns:  # the user's non-unique `id` stays, as a feature
            union = union.rename(columns={"id": "id_original"})
        union.insert(0, "id", np.arange(len(union), dtype="int64"))
    else:
        union = union[[idc, *[c for c in union.columns if c != idc]]]

    helpers = [c for c in (_PART, _ROW, _USER_ID, _IMAGE) if c in union.columns]
    is_train = (union[_PART] == "train").to_numpy()
    train_out = union[is_train].reset_index(drop=True)
    test_out = union[~is_train].reset_index(drop=True)
    test_columns = [
        c
        for c in train_out.columns
        if c not in helpers and c != target and c not in (s.get("train_only") or [])
    ]
    sample = test_out[[idc]].assign(**_sample_values(train_out[target], s, metric))
    write_public_private(
        public,
        private,
        train=train_out.drop(columns=helpers),
        test_features=test_out[test_columns],
        answers=test_out[[idc, target]],
        sample_submission=sample,
    )
    if _ROW in test_out.columns:
        users = test_out[test_out[_ROW].notna()]
        mapping = pd.DataFrame({"row": users[_ROW].astype("int64"), "public_id": users[idc]})
        if _USER_ID in users.columns:
            mapping[user_id] = users[_USER_ID]
        elif user_id is not None:
            mapping[user_id] = users[user_id]
        if image_col:
            mapping[image_col] = users[_IMAGE]
        write_csv(mapping, private / USER_TEST)
    if image_col:
        _copy_images(raw, public, train_out, test_out, idc, s)
    _check_answers(test_out, target, metric)
    log.info(
        "prepared from your data",
        train_rows=len(train_out),
        test_rows=len(test_out),
        graded_rows=int(test_out[target].notna().sum()),
        split=s["split"],
    )


def _copy_images(
    raw: Path, public: Path, train: Any, test: Any, idc: str, settings: dict[str, Any]
) -> None:
    """``public/{train,test}/<id><ext>``; converted to PNG when the extensions differ."""
    from gome_core.byod.tables import discover_image_folders, image_keys, ref_string

    column = _IMAGE
    folders = {f.path: f for f in discover_image_folders(raw)}

    def resolver(preferred: str | None) -> dict[str, str]:
        # The split's own folder first: `train/1.png` and `test/1.png` share the name `1`.
        order = sorted(folders, key=lambda f: f != preferred)
        keys: dict[str, str] = {}
        for name in order:
            for key, rel in image_keys(raw, folders[name]).items():
                keys.setdefault(key, rel)
        return keys

    by_origin = {
        False: resolver(settings.get("image_folder")),
        True: resolver(settings.get("test_image_folder") or settings.get("image_folder")),
    }
    plan = []
    for split, frame in (("train", train), ("test", test)):
        # Rows of the user's test table name test images; the others, training images.
        from_test = frame[_ROW].notna().tolist() if _ROW in frame.columns else [False] * len(frame)
        for ident, value, own in zip(
            frame[idc].tolist(), frame[column].tolist(), from_test, strict=True
        ):
            keys = by_origin[bool(own)]
            ref = ref_string(value)
            if ref not in keys:
                raise ByodError(f"the image {ref!r} named in the data is not in {raw}.")
            plan.append((split, ident, raw / keys[ref]))
    convert = len({source.suffix.lower() for _, _, source in plan}) > 1
    for split in ("train", "test"):
        (public / split).mkdir(parents=True, exist_ok=True)
    for split, ident, source in plan:
        if convert:
            _to_png(source, public / split / f"{ident}.png")
        else:
            _link_or_copy(source, public / split / f"{ident}{source.suffix.lower()}")


def _to_png(source: Path, target: Path) -> None:
    try:
        from PIL import Image
    except ImportError as exc:
        raise ByodError(
            "the images have different file types, and converting them to PNG needs Pillow "
            "(`pip install pillow`); or convert them to one type yourself."
        ) from exc
    with Image.open(source) as image:
        image.save(target, format="PNG")


def _check_answers(test: Any, target: str, metric: Any) -> None:
    graded = test[target].dropna()
    if graded.empty:
        raise ByodError("no test row has an answer, so nothing could be graded.")
    if metric.name in ("roc-auc", "r2") and graded.nunique() < 2:
        raise ByodError(
            f"every graded test row has `{target}` = {graded.iloc[0]!r}, and {metric.name} needs "
            f"at least two different answers. Hold out more rows (--holdout), turn off the split "
            f"by time (--date-column none) or choose another metric (--metric)."
        )


# --------------------------------------------------------------------------- grading


def grade_from_config(config_path: Path, submission: Any, answers: Any) -> float:
    """Grade ``submission`` with the competition's metric; rows without an answer (from an
    unlabelled test table) must be predicted but are not scored."""
    config, s = read_config(config_path)
    metric = get_metric(str(config["grader"]["name"]))
    idc, target = public_id_column(s), s["target"]
    classes = [str(c) for c in s.get("classes") or []]
    columns = metric.columns(target, classes)
    aligned = align_submission(submission, answers, id_column=idc, columns=columns)
    graded = answers[target].notna().to_numpy()
    if not graded.all():
        aligned.insert(0, idc, answers[idc].to_numpy())
        submission = aligned[graded].reset_index(drop=True)
        answers = answers[graded].reset_index(drop=True)
        if s["task_type"] in ("binary", "multiclass"):
            # Missing answers made whole-number labels floats when read: 2 -> 2.0.
            answers[target] = encode_target(answers[target], {**s, "task_type": "multiclass"})
    return metric.grade(submission, answers, target_column=target, id_column=idc, classes=classes)
