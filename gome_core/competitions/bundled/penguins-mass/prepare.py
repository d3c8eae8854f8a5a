"""Prepare penguins-mass from the Palmer Archipelago penguin data that ships with
palmerpenguins."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from gome_core.competitions.preparation import shuffle_with_ids, test_mask, write_public_private
from gome_core.competitions.sources import copy_package_file

SEED = 2007
TEST_FRACTION = 0.25


def prepare(raw: Path, public: Path, private: Path) -> None:
    source = copy_package_file(
        raw,
        "palmerpenguins",
        "data/penguins.csv",
        distribution="palmerpenguins",
        expected_sha256="f204db2c753b0937caac3cb35258562c14f073e4bbc76be24b4c51ce22767a93",
    )
    data = pd.read_csv(source)
    data = data[data["body_mass_g"].notna()].reset_index(drop=True)
    data["body_mass_g"] = data["body_mass_g"].astype("int64")
    data = shuffle_with_ids(data, SEED)
    is_test = test_mask(len(data), TEST_FRACTION, SEED, stratify=data["species"])
    train, test = data[~is_test], data[is_test]

    write_public_private(
        public,
        private,
        train=train,
        test_features=test.drop(columns="body_mass_g"),
        answers=test[["id", "body_mass_g"]],
        sample_submission=test[["id"]].assign(body_mass_g=4000),
    )
