"""Each tree-search preset runs end to end on a real competition, and the journal holds the tree."""

import pytest

from gome_core.config import resolve
from gome_core.engine.launch import build_engine, competition_ref
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
