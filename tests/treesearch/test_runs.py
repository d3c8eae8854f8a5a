"""Each tree-search preset runs end to end on a real competition, and the journal holds the tree."""

import pytest

from gome_core.config import resolve
from gome_core.engine.launch import build_engine, competition_ref, open_competition
from gome_core.journal import Journal


@pytest.mark.parametrize("preset", ["aide-greedy", "aira-mcts", "aira-evo", "ml-master"])
def test_preset_runs_and_the_journal_rebuilds_the_tree(
    preset, toy_registry, toy_competition, tmp_path
):
    _, competition = toy_competition
    resolved = resolve(
        preset=preset,
        overrides=[
            "optimizer.implementer=toy",
            "optimizer.ideas=toy",
            "budget.steps=7",
            "engine.workers=2",
            "executor.timeout_s=30",
        ],
        registry=toy_registry,
    )
    outcome = build_engine(resolved, competition_ref(competition), run_dir=tmp_path / "r").run()
    assert outcome.steps == 7 and outcome.final is not None
    assert (tmp_path / "r" / "submission.csv").is_file()

    finished = [
        e for e in Journal.read(tmp_path / "r" / "journal.jsonl") if e["type"] == "step_finished"
    ]
    parent_of = {e["node"]["candidate"]["id"]: e["proposal"]["parents"] for e in finished}
    operators = {e["node"]["candidate"]["id"]: e["proposal"]["operator"] for e in finished}
    # Every parent was evaluated before its child: the journal is a valid tree (or DAG for
    # crossover), with drafts at the roots.
    seen = set()
    for node_id, parents in parent_of.items():
        assert all(p in seen for p in parents), (node_id, parents)
        assert (operators[node_id] == "draft") == (not parents)
        seen.add(node_id)
    assert "draft" in operators.values() and len(set(operators.values())) >= 2


def _steps(run_dir) -> dict[str, dict]:
    events = Journal.read(run_dir / "journal.jsonl")
    return {e["node"]["candidate"]["id"]: e["node"] for e in events if e["type"] == "step_finished"}


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["aira-mcts", "ml-master"])
def test_preset_with_its_own_ideas_and_writer_improves_on_its_drafts(preset, tmp_path):
    # The preset as shipped (the offline reasoner's ideas and writer), on a bundled competition.
    _, competition = open_competition("penguins-mass")
    resolved = resolve(
        preset=preset,
        overrides=[
            "budget.steps=7",
            "engine.workers=2",
            'validators=["full-run"]',
            "optimizer.implementer.max_folds=2",
        ],
    )
    outcome = build_engine(resolved, competition_ref(competition), run_dir=tmp_path / "r").run()
    assert outcome.steps == 7 and outcome.final is not None
    nodes = _steps(tmp_path / "r")
    drafts = [n for n in nodes.values() if n["candidate"]["operator"] == "draft"]
    children = [n for n in nodes.values() if n["candidate"]["parents"]]
    # Five drafts of different model families, then children of the drafts.
    assert len(drafts) == 5 and len(children) == 2
    families = {n["candidate"]["files"]["main.py"].splitlines()[0] for n in drafts}
    assert len(families) == 5, families
    for child in children:
        candidate = child["candidate"]
        parent = nodes[candidate["parents"][0]]
        assert candidate["operator"] in ("improve", "debug")
        assert candidate["plan"].startswith(f"{candidate['operator']}: ")
        # The child is its parent's program with a few lines changed, not a new draft.
        ours, theirs = candidate["files"]["main.py"], parent["candidate"]["files"]["main.py"]
        changed = set(ours.splitlines()) ^ set(theirs.splitlines())
        assert 0 < len(changed) <= 20, changed
        assert child["score"] is not None
