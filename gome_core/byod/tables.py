"""Finding and reading the tables and image folders of a data folder.

A data folder holds tables at its top level (``.csv``, ``.csv.gz``, ``.tsv``, ``.parquet``,
``.pq``) and, for image tasks, a folder of images: either flat (``images/cat.1.png``, labelled by
a table with a file-name column) or one sub-folder per class (``images/cat/1.png``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import attrs

from gome_core.byod.errors import ByodError

__all__ = [
    "IMAGE_SUFFIXES",
    "TABLE_SUFFIXES",
    "ImageFolder",
    "by_class_table",
    "discover_image_folders",
    "discover_tables",
    "image_keys",
    "is_date_column",
    "label_text",
    "list_images",
    "read_table",
    "ref_string",
    "table_stem",
]

TABLE_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".parquet", ".pq")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
_DATE_LIKE = re.compile(r"^\s*(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})")
#: Top-level tables that are not data: submissions, answers, read-me files.
_NOT_DATA = re.compile(r"(^|[_\-.])(sample_?submission|submission|readme|solution)", re.I)


def table_suffix(name: str) -> str | None:
    lower = name.lower()
    return next((s for s in TABLE_SUFFIXES if lower.endswith(s)), None)


def table_stem(name: str) -> str:
    """``train.csv.gz`` -> ``train``."""
    suffix = table_suffix(name)
    return name[: -len(suffix)] if suffix else Path(name).stem


def discover_tables(root: Path) -> list[str]:
    """Names of the data tables at the top of ``root``, sorted (submissions left out)."""
    return sorted(
        p.name
        for p in root.iterdir()
        if p.is_file()
        and table_suffix(p.name)
        and not p.name.startswith(".")
        and not _NOT_DATA.search(table_stem(p.name))
    )


def read_table(path: Path) -> Any:
    """A table as a DataFrame; Parquet needs pyarrow or fastparquet (the error says so)."""
    import pandas as pd

    suffix = table_suffix(path.name)
    if suffix in (".parquet", ".pq"):
        try:
            return pd.read_parquet(path)
        except ImportError as exc:
            raise ByodError(
                f"{path} is a Parquet file, and reading Parquet needs pyarrow or fastparquet, "
                f"neither of which is installed ({exc}). Install one (`pip install pyarrow`), or "
                f"save the table as CSV."
            ) from exc
    try:
        return pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",", low_memory=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ByodError(f"{path} cannot be read as a table: {exc}. Fix the file.") from exc


def _is_image(name: str) -> bool:
    return name.lower().endswith(IMAGE_SUFFIXES) and not name.startswith(".")


@attrs.frozen
class ImageFolder:
    """A folder of images under the data folder: ``path`` relative to it (POSIX), ``layout``
    ``"flat"`` (images directly inside) or ``"by-class"`` (one sub-folder of images per class),
    ``count`` the images and ``classes`` the sub-folders of a by-class layout."""

    path: str
    layout: str
    count: int
    classes: tuple[str, ...] = ()


def _images_in(folder: Path) -> int:
    with os.scandir(folder) as entries:
        return sum(1 for e in entries if e.is_file() and _is_image(e.name))


def discover_image_folders(root: Path) -> list[ImageFolder]:
    """Image folders at the top of ``root`` (and ``root`` itself when it holds images)."""
    found = []
    if _images_in(root):
        found.append(ImageFolder(".", "flat", _images_in(root)))
    for child in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        direct = _images_in(child)
        if direct:
            found.append(ImageFolder(child.name, "flat", direct))
            continue
        classes = {
            sub.name: _images_in(sub)
            for sub in sorted(child.iterdir())
            if sub.is_dir() and not sub.name.startswith(".")
        }
        classes = {k: v for k, v in classes.items() if v}
        if len(classes) >= 2:
            found.append(ImageFolder(child.name, "by-class", sum(classes.values()), tuple(classes)))
    return found


def list_images(root: Path, folder: str) -> list[str]:
    """The images directly inside ``root/folder``, as sorted POSIX paths relative to root."""
    base = root / folder
    return sorted(
        p.relative_to(root).as_posix() for p in base.iterdir() if p.is_file() and _is_image(p.name)
    )


def ref_string(value: Any) -> str:
    """A table cell naming an image, as text: ``12`` and ``12.0`` -> ``"12"``."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def image_keys(root: Path, folder: ImageFolder) -> dict[str, str]:
    """How a table may name the images of ``folder``: by path relative to the data folder, by
    path relative to the image folder, by file name or by file name without extension. Each key
    maps to the image's path relative to ``root``; keys that name two images are left out."""
    keys: dict[str, str | None] = {}
    prefix = "" if folder.path == "." else folder.path + "/"
    if folder.layout == "by-class":
        images = [
            rel for cls in folder.classes for rel in list_images(root, f"{prefix}{cls}".lstrip("/"))
        ]
    else:
        images = list_images(root, folder.path)
    for rel in images:
        inner = rel[len(prefix) :]
        name = rel.rsplit("/", 1)[-1]
        for key in dict.fromkeys((rel, inner, name, name.rsplit(".", 1)[0])):
            keys[key] = rel if key not in keys or keys[key] == rel else None
    return {k: v for k, v in keys.items() if v is not None}


def by_class_table(root: Path, folder: str, image_column: str, label_column: str) -> Any:
    """The table of a by-class image folder: one row per image of ``root/folder/<class>/``,
    its path relative to root and its class (the sub-folder's name)."""
    import pandas as pd

    rows = [
        (rel, rel.rsplit("/", 2)[-2])
        for sub in sorted((root / folder).iterdir())
        if sub.is_dir() and not sub.name.startswith(".")
        for rel in list_images(root, sub.relative_to(root).as_posix())
    ]
    return pd.DataFrame(rows, columns=[image_column, label_column])


def image_coverage(values: Iterable[Any], keys: dict[str, str]) -> float:
    """The share of non-missing ``values`` that name an image of ``keys``."""
    refs = [ref_string(v) for v in values if v == v and v is not None]
    return sum(r in keys for r in refs) / len(refs) if refs else 0.0


def label_text(values: Any) -> Any:
    """Labels as text, with whole numbers written as integers (``1.0`` -> ``"1"``), so that
    labels read from CSV, Parquet and YAML compare equal."""
    import pandas as pd

    series = pd.Series(values)
    numeric = pd.to_numeric(series, errors="coerce")
    if len(series) and numeric.notna().all() and not pd.api.types.is_bool_dtype(series):
        if bool((numeric == numeric.round()).all()):
            return numeric.astype("int64").astype(str).reset_index(drop=True)
        return numeric.astype(str).reset_index(drop=True)
    return series.astype(str).str.strip().reset_index(drop=True)


def is_date_column(series: Any) -> bool:
    """Whether a column holds dates: a datetime type, or text of which at least 90% looks
    like and parses as a date (``2024-01-31``, ``31/01/2024``)."""
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(series):
        return True
    if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return False
    sample = series.dropna().astype(str).head(500)
    if not len(sample) or sample.str.match(_DATE_LIKE).mean() < 0.9:
        return False
    parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    return bool(parsed.notna().mean() >= 0.9)
