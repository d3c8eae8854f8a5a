"""Prepare breast-cancer from scikit-learn's bundled copy of the Wisconsin Diagnostic Breast
Cancer data (WDBC)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from gome_core.competitions.preparation import hold_out
from gome_core.competitions.sources import copy_package_file

SEED = 569
TEST_FRACTION = 0.25
_MEASURES = [
    "radius",
    "texture",
    "perimeter",
    "area",
    "smoothness",
    "compactness",
    "concavity",
    "concave_points",
    "symmetry",
    "fractal_dimension",
]
FEATURES = [f"{kind}_{m}" for kind in ("mean", "se", "worst") for m in _MEASURES]


def prepare(raw: Path, public: Path, private: Path) -> None:
    source = copy_package_file(
        raw,
        "sklearn",
        "datasets/data/breast_cancer.csv",
        distribution="scikit-learn",
        expected_sha256="fed3eb72d0575ef6192293f5093c6e801b1476b577d0386bf4455504522172ed",
    )
    # First line: "569,30,malignant,benign"; the last column is 0 = malignant, 1 = benign.
    data = pd.read_csv(source, header=None, skiprows=1, names=[*FEATURES, "target"])
    data["malignant"] = (data.pop("target") == 0).astype("int64")
    hold_out(
        data,
        public,
        private,
        target="malignant",
        sample={"malignant": 0.5},
        seed=SEED,
        test_fraction=TEST_FRACTION,
        stratify="malignant",
    )
