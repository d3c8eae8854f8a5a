"""Prepare penguins-mass from the Palmer Archipelago penguin data that ships with
palmerpenguins."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from gome_core.competitions.preparation import hold_out
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
    hold_out(
        data,
        public,
        private,
        target="body_mass_g",
        sample={"body_mass_g": 4000},
        seed=SEED,
        test_fraction=TEST_FRACTION,
        stratify="species",
    )
