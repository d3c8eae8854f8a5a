"""Loading competitions in MLE-bench's layout, the store, and preparing."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from gome_core.competitions import (
    BUNDLED_DIR,
    CompetitionConfigError,
    CompetitionNotFoundError,
    CompetitionStore,
    LFSPointerError,
    PrepareError,
    default_data_dir,
    grade_submission,
    is_lfs_pointer,
)
from gome_core.competitions.lfs import find_lfs_pointers
from gome_core.errors import UsageError

from .conftest import LFS_POINTER, write_mlebench_competition

BUNDLED_IDS = {
    "breast-cancer",
    "chile-vote",
    "computers-price",
    "diamonds-price",
    "digits-8x8",
    "hmda-denial",
    "mnist-5k",
    "penguins-mass",
    "rt-sentiment",
}


def test_user_dir_lists_alongside_bundled(store: CompetitionStore, user_competitions: Path) -> None:
    ids = store.ids()
    assert "toy-mae" in ids and BUNDLED_IDS <= set(ids)
    toy = store.get("toy-mae")
    assert toy.name == "Toy toy-mae"
    assert toy.metric_name == "mae"
    assert toy.lower_is_better is True
    assert toy.bundled is False
    # MLE-bench writes the description path relative to its repository root.
    assert toy.description_path == user_competitions / "toy-mae" / "description.md"
    assert toy.answers == store.data_dir / "toy-mae" / "prepared" / "private" / "test.csv"
    assert not toy.is_prepared


def test_prepare_and_grade_a_user_competition(store: CompetitionStore) -> None:
    comp = store.prepare("toy-mae")
    assert comp.is_prepared
    public = sorted(p.name for p in comp.public_dir.iterdir())
    assert public == ["description.md", "sample_submission.csv", "test.csv", "train.csv"]
    assert (comp.private_dir / "test.csv").is_file()
    report = grade_submission(comp.sample_submission, comp)
    assert report.valid_submission and report.score == 4.75
    assert not report.above_median and not report.any_medal
    perfect = grade_submission(comp.answers, comp)
    assert perfect.score == 0.0 and perfect.gold_medal


def test_prepare_is_skipped_when_prepared_and_redone_with_force(store: CompetitionStore) -> None:
    comp = store.prepare("toy-mae")
    marker = comp.public_dir / "marker"
    marker.write_text("x")
    store.prepare("toy-mae")
    assert marker.exists()
    store.prepare("toy-mae", force=True)
    assert not marker.exists() and comp.is_prepared


def test_a_prepare_that_finishes_second_keeps_the_first_ones_data(
    store: CompetitionStore, user_competitions: Path
) -> None:
    # Another process finishes preparing while this one is still at it: its data, which its
    # runs may already be reading, stays in place.
    prepare_py = user_competitions / "toy-mae" / "prepare.py"
    prepare_py.write_text(
        prepare_py.read_text()
        + textwrap.dedent("""
            _original = prepare

            def prepare(raw, public, private):
                _original(raw, public, private)
                import shutil
                theirs = public.parent.parent / "prepared"
                shutil.copytree(public.parent, theirs)
                (theirs / "public" / "theirs").write_text("")
        """)
    )
    comp = store.prepare("toy-mae")
    assert (comp.public_dir / "theirs").exists() and comp.is_prepared
    assert not list(comp.data_dir.glob(".prepared-*"))  # no staging left behind


def test_user_dirs_shadow_bundled(tmp_path: Path, data_dir: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    write_mlebench_competition(mine, "penguins-mass")
    store = CompetitionStore.default([mine], data_dir)
    comp = store.get("penguins-mass")
    assert comp.competition_dir == mine / "penguins-mass" and not comp.bundled
    assert [c for c in store.list() if c.id == "penguins-mass"] == [comp]


def test_default_honours_environment(monkeypatch, user_competitions: Path, data_dir: Path) -> None:  # noqa: ANN001
    monkeypatch.setenv("GOME_COMPETITIONS_DIR", str(user_competitions))
    monkeypatch.setenv("GOME_DATA_DIR", str(data_dir))
    store = CompetitionStore.default()
    assert store.competitions_dirs == (user_competitions, BUNDLED_DIR)
    assert store.data_dir == data_dir
    assert default_data_dir() == data_dir
    monkeypatch.delenv("GOME_DATA_DIR")
    assert default_data_dir().parts[-2:] == ("gome", "data")


def test_missing_competitions_dir_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        CompetitionStore.default([tmp_path / "nope"], tmp_path)


def test_unknown_id_suggests_close_ones(store: CompetitionStore) -> None:
    with pytest.raises(CompetitionNotFoundError, match="Did you mean 'digits-8x8'") as info:
        store.get("digits")
    assert isinstance(info.value, UsageError)
    with pytest.raises(CompetitionNotFoundError, match="'toy-mae'"):
        store.get("toy-mea")


def test_mlebench_checkout_root_and_helpers(tmp_path: Path, data_dir: Path) -> None:
    """A checkout of MLE-bench: the root is accepted, and grade.py may import MLE-bench's own
    helpers (mlebench.grade_helpers) from the checkout without MLE-bench installed."""
    checkout = tmp_path / "mle-bench"
    package = checkout / "mlebench"
    (package / "competitions").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "competitions" / "__init__.py").write_text("")
    (package / "grade_helpers.py").write_text(
        "class InvalidSubmissionError(Exception):\n    pass\n"
    )
    write_mlebench_competition(
        package / "competitions",
        "toy-checkout",
        helpers="mlebench.grade_helpers",
        raw_data_dir=data_dir,
    )
    store = CompetitionStore.default([checkout], data_dir)
    assert store.competitions_dirs[0] == package / "competitions"
    try:
        comp = store.prepare("toy-checkout")
        bad = tmp_path / "bad.csv"
        bad.write_text("id,prediction\n12,1\n")
        report = grade_submission(bad, comp)
    finally:
        for name in [m for m in sys.modules if m == "mlebench" or m.startswith("mlebench.")]:
            del sys.modules[name]
    # MLE-bench's own InvalidSubmissionError counts as an invalid submission, with its message.
    assert not report.valid_submission and report.reason == "expected columns id, y"


def test_file_path_specs(tmp_path: Path, data_dir: Path) -> None:
    root = tmp_path / "comps"
    folder = write_mlebench_competition(root, "toy-files", raw_data_dir=data_dir)
    config = (folder / "config.yaml").read_text()
    config = config.replace("mlebench.competitions.toy-files.grade:grade", "grade.py:grade")
    config = config.replace("mlebench.competitions.toy-files.prepare:prepare", "prepare.py")
    config = config.replace("mlebench/competitions/toy-files/description.md", "description.md")
    (folder / "config.yaml").write_text(config)
    store = CompetitionStore.default([root], data_dir)
    comp = store.prepare("toy-files")
    assert grade_submission(comp.answers, comp).score == 0.0


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c.replace("  name: mae\n", ""), "missing key `grader.name`"),
        (lambda c: c.replace("preparer:", "prepper:"), "missing key `preparer`"),
        (lambda c: c.replace("description.md", "nope.md"), "description file"),
        (lambda c: c + "  : [unbalanced\n", "not valid YAML"),
        (lambda c: "- just\n- a list\n", "mapping"),
    ],
    ids=["no grader name", "no preparer", "no description", "bad yaml", "not a mapping"],
)
def test_malformed_config(tmp_path: Path, data_dir: Path, edit, message: str) -> None:  # noqa: ANN001
    root = tmp_path / "comps"
    folder = write_mlebench_competition(root, "toy-bad")
    (folder / "config.yaml").write_text(edit((folder / "config.yaml").read_text()))
    store = CompetitionStore.default([root], data_dir)
    competitions, problems = store.scan()
    # A broken competition is reported, not fatal for the others.
    assert BUNDLED_IDS <= {c.id for c in competitions}
    assert len(problems) == 1 and message.split("`")[0] in str(problems[0])
    with pytest.raises(CompetitionConfigError, match=message):
        store.get("toy-bad")


def test_grade_fn_that_cannot_be_found(tmp_path: Path, data_dir: Path) -> None:
    root = tmp_path / "comps"
    folder = write_mlebench_competition(root, "toy-nofn", raw_data_dir=data_dir)
    (folder / "grade.py").write_text("def not_grade(s, a):\n    return 0\n")
    store = CompetitionStore.default([root], data_dir)
    comp = store.prepare("toy-nofn")
    with pytest.raises(CompetitionConfigError, match="no function 'grade'"):
        grade_submission(comp.answers, comp)


def test_prepare_failure_leaves_nothing_half_written(
    store: CompetitionStore, user_competitions: Path
) -> None:
    prepare_py = user_competitions / "toy-mae" / "prepare.py"
    prepare_py.write_text(
        prepare_py.read_text().replace(
            '    test[["id"]].assign',
            '    raise RuntimeError("disk full")\n    test[["id"]].assign',
        )
    )
    with pytest.raises(PrepareError, match="RuntimeError: disk full") as info:
        store.prepare("toy-mae")
    assert isinstance(info.value, UsageError)
    comp = store.get("toy-mae")
    assert not comp.public_dir.parent.exists()
    assert not [p for p in comp.data_dir.iterdir() if p.name.startswith(".prepared")]


def test_prepare_with_empty_raw_dir_says_where_data_goes(tmp_path: Path, data_dir: Path) -> None:
    root = tmp_path / "comps"
    write_mlebench_competition(root, "toy-noraw")
    store = CompetitionStore.default([root], data_dir)
    with pytest.raises(PrepareError, match="raw data directory .* is empty"):
        store.prepare("toy-noraw")


def test_prepare_that_writes_no_answers(store: CompetitionStore, user_competitions: Path) -> None:
    prepare_py = user_competitions / "toy-mae" / "prepare.py"
    prepare_py.write_text(
        prepare_py.read_text().replace('private / "test.csv"', 'private / "x.csv"')
    )
    with pytest.raises(PrepareError, match="did not write"):
        store.prepare("toy-mae")


def test_prepare_signature_is_checked(store: CompetitionStore, user_competitions: Path) -> None:
    (user_competitions / "toy-mae" / "prepare.py").write_text("def prepare(src, dst):\n    pass\n")
    with pytest.raises(PrepareError, match="raw, public and private"):
        store.prepare("toy-mae")


def test_lfs_pointer_in_raw_data(store: CompetitionStore, data_dir: Path) -> None:
    (data_dir / "toy-mae" / "raw" / "train.csv").write_text(LFS_POINTER)
    with pytest.raises(LFSPointerError, match="git lfs pull"):
        store.prepare("toy-mae")


def test_lfs_pointer_description(store: CompetitionStore, user_competitions: Path) -> None:
    (user_competitions / "toy-mae" / "description.md").write_text(LFS_POINTER)
    with pytest.raises(LFSPointerError):
        store.prepare("toy-mae")


def test_lfs_pointer_leaderboard_gives_unknown_direction_then_clear_error(
    prepared,
    user_competitions: Path,
    store: CompetitionStore,  # noqa: ANN001
) -> None:
    (user_competitions / "toy-mae" / "leaderboard.csv").write_text(LFS_POINTER)
    comp = store.get("toy-mae")
    assert comp.lower_is_better is None  # listing still works
    with pytest.raises(LFSPointerError, match="leaderboard"):
        grade_submission(comp.answers, comp)


def test_lfs_detection(tmp_path: Path) -> None:
    pointer, real, big = tmp_path / "p.csv", tmp_path / "r.csv", tmp_path / "b.csv"
    pointer.write_text(LFS_POINTER)
    real.write_text("id,y\n1,2\n")
    big.write_text(LFS_POINTER + "x" * 5000)
    assert is_lfs_pointer(pointer)
    assert not is_lfs_pointer(real) and not is_lfs_pointer(big)
    assert not is_lfs_pointer(tmp_path / "missing.csv") and not is_lfs_pointer(tmp_path)
    assert find_lfs_pointers(tmp_path) == [pointer]


def test_single_competition_folder_as_directory(user_competitions: Path, data_dir: Path) -> None:
    store = CompetitionStore.default([user_competitions / "toy-mae"], data_dir)
    assert store.get("toy-mae").competition_dir == user_competitions / "toy-mae"


def test_competition_whose_folder_name_differs_from_its_id(tmp_path: Path, data_dir: Path) -> None:
    root = tmp_path / "comps"
    folder = write_mlebench_competition(root, "folder-name")
    config = (folder / "config.yaml").read_text().replace("id: folder-name", "id: real-id")
    (folder / "config.yaml").write_text(config)
    store = CompetitionStore.default([root], data_dir)
    assert store.get("real-id").competition_dir == folder


def test_grade_jsonl_answers_path_outside_prepared(tmp_path: Path, data_dir: Path) -> None:
    """dataset paths may also be absolute."""
    root = tmp_path / "comps"
    folder = write_mlebench_competition(root, "toy-abs", raw_data_dir=data_dir)
    answers = data_dir / "toy-abs" / "prepared" / "private" / "test.csv"
    text = (
        (folder / "config.yaml")
        .read_text()
        .replace("answers: toy-abs/prepared/private/test.csv", f"answers: {answers}")
    )
    (folder / "config.yaml").write_text(textwrap.dedent(text))
    comp = CompetitionStore.default([root], data_dir).prepare("toy-abs")
    assert comp.answers == answers and comp.is_prepared


def test_interrupted_prepare_cleans_up(store: CompetitionStore, user_competitions: Path) -> None:
    (user_competitions / "toy-mae" / "prepare.py").write_text(
        "def prepare(raw, public, private):\n"
        "    (public / 'train.csv').write_text('partial')\n"
        "    raise KeyboardInterrupt\n"
    )
    with pytest.raises(KeyboardInterrupt):
        store.prepare("toy-mae")
    comp = store.get("toy-mae")
    assert not comp.public_dir.parent.exists()
    assert not list(comp.data_dir.glob(".prepared-*"))


def test_leftovers_of_dead_prepares_are_removed(store: CompetitionStore, data_dir: Path) -> None:
    dead = data_dir / "toy-mae" / ".prepared-staging-999999999"
    (dead / "public").mkdir(parents=True)
    store.prepare("toy-mae")
    assert not dead.exists()


def test_the_hold_out_example_of_the_guide_builds_a_competition(tmp_path):
    import re

    import pandas as pd

    guide = (Path(__file__).resolve().parents[2] / "docs" / "competitions.md").read_text()
    block = next(b for b in re.findall(r"```python\n(.*?)```", guide, re.S) if "hold_out" in b)
    namespace: dict = {}
    exec(compile(block, "competitions.md", "exec"), namespace)

    raw, public, private = (tmp_path / name for name in ("raw", "public", "private"))
    for folder in (raw, public, private):
        folder.mkdir()
    loans = pd.DataFrame({"income": range(240), "default": [i % 4 == 0 for i in range(240)]})
    loans.to_csv(raw / "loans.csv", index=False)
    namespace["prepare"](raw, public, private)

    train = pd.read_csv(public / "train.csv")
    test = pd.read_csv(public / "test.csv")
    answers = pd.read_csv(private / "test.csv")
    sample = pd.read_csv(public / "sample_submission.csv")
    assert (len(train), len(test)) == (180, 60)
    assert "default" not in test.columns and list(answers.columns) == ["id", "default"]
    assert list(sample.columns) == ["id", "default"] and set(sample["default"]) == {0.5}
    assert sorted(answers["id"]) == sorted(test["id"]) == sorted(sample["id"])
    assert set(train["id"]).isdisjoint(test["id"])
    # Stratified: the test set keeps the quarter of defaults.
    assert answers["default"].mean() == train["default"].mean() == 0.25


def test_hold_out_refuses_both_strata_and_groups(tmp_path):
    import pandas as pd

    from gome_core.competitions.preparation import hold_out

    data = pd.DataFrame({"x": range(8), "y": [0, 1] * 4, "g": [0, 0, 1, 1] * 2})
    with pytest.raises(ValueError, match="not both"):
        hold_out(
            data,
            tmp_path,
            tmp_path,
            target="y",
            sample={"y": 0},
            seed=0,
            test_fraction=0.25,
            stratify="y",
            groups="g",
        )
