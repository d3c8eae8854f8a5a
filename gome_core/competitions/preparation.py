"""Building blocks for ``prepare(raw, public, private)`` functions: deterministic ids and
splits, CSV and PNG writing. The bundled competitions use them; yours may too."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "hold_out",
    "shuffle_with_ids",
    "test_mask",
    "write_csv",
    "write_png_gray",
    "write_public_private",
    "write_images",
]


def shuffle_with_ids(frame: Any, seed: int, id_column: str = "id") -> Any:
    """Rows in a seeded random order with a new integer ``id`` column first (0..n-1), so
    neither the id nor the row order says anything about the source's order."""
    import numpy as np
    import pandas as pd

    order = np.random.default_rng(seed).permutation(len(frame))
    ids = pd.DataFrame({id_column: np.arange(len(frame), dtype="int64")})
    return pd.concat([ids, frame.iloc[order].reset_index(drop=True)], axis=1)


def test_mask(
    n: int,
    test_fraction: float,
    seed: int,
    *,
    stratify: Iterable[Any] | None = None,
    groups: Iterable[Any] | None = None,
) -> Any:
    """A boolean array marking the test rows: plain, stratified by a label, or by whole groups
    (every row of a group lands on one side). Deterministic for a given seed."""
    import numpy as np

    rng = np.random.default_rng(seed)
    mask = np.zeros(n, dtype=bool)
    if groups is not None:
        labels = np.asarray(list(groups), dtype=object)
        unique = sorted(set(labels.tolist()))
        rng.shuffle(unique)
        target = round(n * test_fraction)
        taken = 0
        for group in unique:
            if taken >= target:
                break
            members = labels == group
            mask |= members
            taken += int(members.sum())
        return mask
    if stratify is not None:
        labels = np.asarray(list(stratify), dtype=object)
        for value in sorted(set(labels.tolist()), key=str):
            index = np.flatnonzero(labels == value)
            mask[rng.permutation(index)[: round(len(index) * test_fraction)]] = True
        return mask
    mask[rng.permutation(n)[: round(n * test_fraction)]] = True
    return mask


def write_csv(frame: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)


def write_public_private(
    public: Path,
    private: Path,
    *,
    train: Any,
    test_features: Any,
    answers: Any,
    sample_submission: Any,
    extra_public: Mapping[str, Any] | None = None,
) -> None:
    """Write MLE-bench's usual files: ``public/{train,test,sample_submission}.csv`` and
    ``private/test.csv`` (the answers)."""
    write_csv(train, public / "train.csv")
    write_csv(test_features, public / "test.csv")
    write_csv(sample_submission, public / "sample_submission.csv")
    write_csv(answers, private / "test.csv")
    for name, frame in (extra_public or {}).items():
        write_csv(frame, public / name)


def hold_out(
    data: Any,
    public: Path,
    private: Path,
    *,
    target: str,
    sample: Mapping[str, Any],
    seed: int,
    test_fraction: float,
    stratify: str | None = None,
    groups: str | None = None,
    extra_public: Mapping[str, Any] | None = None,
) -> tuple[Any, Any]:
    """A competition from one table: rows shuffled under new ids, a seeded share held out as the
    test set (stratified by the column ``stratify``, or by whole ``groups``), and MLE-bench's files
    written — the test features without ``target``, the answers (``id``, ``target``) kept
    private, a sample submission of the constant columns ``sample``. Returns ``(train, test)``
    for files of their own (images, say)."""
    if stratify and groups:
        raise ValueError("hold_out: stratify by a column or keep whole groups, not both")
    data = shuffle_with_ids(data, seed)
    is_test = test_mask(
        len(data),
        test_fraction,
        seed,
        stratify=data[stratify] if stratify else None,
        groups=data[groups] if groups else None,
    )
    train, test = data[~is_test], data[is_test]
    write_public_private(
        public,
        private,
        train=train,
        test_features=test.drop(columns=target),
        answers=test[["id", target]],
        sample_submission=test[["id"]].assign(**sample),
        extra_public=extra_public,
    )
    return train, test


def write_png_gray(path: Path, pixels: Any) -> None:
    """Write a 2-D uint8 array as an 8-bit grayscale PNG (no imaging library needed)."""
    import numpy as np

    image = np.ascontiguousarray(pixels, dtype=np.uint8)
    height, width = image.shape
    scanlines = b"".join(b"\x00" + image[row].tobytes() for row in range(height))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + tag
            + data
            + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(scanlines, 9))
        + chunk(b"IEND", b"")
    )


def write_images(directory: Path, ids: Iterable[int], images: Any) -> None:
    """Write ``<directory>/<id>.png`` for each (id, 2-D uint8 image)."""
    directory.mkdir(parents=True, exist_ok=True)
    for image_id, image in zip(ids, images, strict=True):
        write_png_gray(directory / f"{int(image_id)}.png", image)
