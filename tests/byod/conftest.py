"""Data folders as users bring them, built from real data sets that ship with scikit-learn."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest


def cancer_frame() -> pd.DataFrame:
    """Wisconsin breast cancer: 569 tumours, 30 measurements, `diagnosis` in words."""
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame.rename(columns={"target": "diagnosis"})
    frame["diagnosis"] = frame["diagnosis"].map({0: "malignant", 1: "benign"})
    return frame


def wine_frame() -> pd.DataFrame:
    """UCI wine: 178 wines of 3 cultivars, with a `wine_id`."""
    from sklearn.datasets import load_wine

    frame = load_wine(as_frame=True).frame.rename(columns={"target": "cultivar"})
    frame.insert(0, "wine_id", np.arange(1000, 1000 + len(frame)))
    return frame.sample(frac=1.0, random_state=1).reset_index(drop=True)


def diabetes_frame() -> pd.DataFrame:
    """Diabetes: 442 patients, disease `progression` a year later."""
    from sklearn.datasets import load_diabetes

    return load_diabetes(as_frame=True).frame.rename(columns={"target": "progression"})


def write_digit_images(
    folder: Path, count: int, *, by_class: bool = False, first: int = 0
) -> list[tuple]:
    """``count`` 8x8 digits from the ``first`` as PNGs named ``img_<i>.png`` from 0; returns
    (file name, digit) pairs."""
    from sklearn.datasets import load_digits

    from gome_core.competitions.preparation import write_png_gray

    digits = load_digits()
    rows = []
    for i in range(count):
        label = int(digits.target[first + i])
        target = folder / f"digit{label}" if by_class else folder
        target.mkdir(parents=True, exist_ok=True)
        name = f"img_{i:04d}.png"
        write_png_gray(target / name, (digits.images[first + i] * 255 // 16).astype("uint8"))
        rows.append((name, label))
    return rows


@pytest.fixture
def cancer_dir(tmp_path: Path) -> Path:
    """Only train.csv."""
    root = tmp_path / "tumours"
    root.mkdir()
    cancer_frame().to_csv(root / "train.csv", index=False)
    return root


@pytest.fixture
def wine_dir(tmp_path: Path) -> Path:
    """train.csv and an unlabelled test.csv, both with the id column `wine_id`."""
    root = tmp_path / "wine"
    root.mkdir()
    frame = wine_frame()
    frame.iloc[:140].to_csv(root / "train.csv", index=False)
    frame.iloc[140:].drop(columns="cultivar").to_csv(root / "test.csv", index=False)
    return root


@pytest.fixture
def dated_dir(tmp_path: Path) -> Path:
    """A daily series: one patient a day, `progression` to forecast."""
    root = tmp_path / "clinic"
    root.mkdir()
    frame = diabetes_frame()
    days = pd.date_range("2020-01-01", periods=len(frame), freq="D").strftime("%Y-%m-%d")
    frame.insert(0, "visit_date", days)
    frame.to_csv(root / "train.csv", index=False)
    return root


@pytest.fixture
def parquet_dir(tmp_path: Path) -> Path:
    pytest.importorskip("pyarrow")
    root = tmp_path / "patients"
    root.mkdir()
    diabetes_frame().to_parquet(root / "train.parquet")
    return root


@pytest.fixture
def digits_dir(tmp_path: Path) -> Path:
    """images/*.png and labels.csv (filename,label)."""
    root = tmp_path / "scans"
    rows = write_digit_images(root / "images", 200)
    pd.DataFrame(rows, columns=["filename", "label"]).to_csv(root / "labels.csv", index=False)
    return root
