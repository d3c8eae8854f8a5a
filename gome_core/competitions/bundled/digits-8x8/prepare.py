"""Prepare digits-8x8 from scikit-learn's bundled copy of the UCI optical digits (8x8 images)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gome_core.competitions.preparation import hold_out, write_images
from gome_core.competitions.sources import copy_package_file

SEED = 8
TEST_FRACTION = 0.25
PIXELS = [f"pixel{i}" for i in range(64)]


def prepare(raw: Path, public: Path, private: Path) -> None:
    source = copy_package_file(
        raw,
        "sklearn",
        "datasets/data/digits.csv.gz",
        distribution="scikit-learn",
        expected_sha256="09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22",
    )
    data = pd.read_csv(source, header=None, names=[*PIXELS, "label"]).astype("int64")
    train, test = hold_out(
        data[["label", *PIXELS]],
        public,
        private,
        target="label",
        sample={"label": 0},
        seed=SEED,
        test_fraction=TEST_FRACTION,
        stratify="label",
    )
    # Intensities run 0..16 in the source; scale them to 0..255 for the PNGs.
    for split, frame in (("train", train), ("test", test)):
        images = (frame[PIXELS].to_numpy().reshape(-1, 8, 8) * 255 // 16).astype(np.uint8)
        write_images(public / split, frame["id"], images)
