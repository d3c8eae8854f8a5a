"""Each policy driven with scripted results through ask / tell."""

import types
from collections import Counter

import gome_treesearch.plugin
import pytest
from gome_treesearch import (
    AideConfig,
    AideGreedy,
    AiraEvolutionary,
    AiraMcts,
    EvolutionConfig,
    MctsConfig,
    MlMaster,
    MlMasterConfig,
)

from gome_core import (
    Candidate,
    Direction,
    ExecutionResult,
    Hypothesis,
    Metric,
    Node,
    ValidationReport,
)
from gome_core.config import GradientEstimatorSpec, ImplementerSpec
from gome_core.testing import PluginSuite
from gome_core.types import CompetitionRef

TOY = {"implementer": ImplementerSpec("toy"), "ideas": GradientEstimatorSpec("toy")}


class TestTreeSearchPlugin(PluginSuite):
    @pytest.fixture
    def plugin(self):
        return gome_treesearch.plugin


def _context(lower=False, seed=0):
    metric = Metric("mae" if lower else "auc", lower_is_better=lower)
    return types.SimpleNamespace(
        competition=CompetitionRef("c", ".", "", metric), seed=seed, time_used=0.0, emit=None
    )


def _start(search, lower=False, seed=0):
    context = _context(lower, seed)
    search.start(context)
    return context


def _node(proposal, score=None, buggy=False):
    result = ExecutionResult(exit_code=1 if buggy else 0)
    reports = () if buggy else (ValidationReport.ok("full-run", score=score),)
    return Node(
        Candidate.from_code(proposal.id, ""), result, reports, score=None if buggy else score
    )


@pytest.fixture(autouse=True)
def _toy(toy_registry):
    return toy_registry


def test_aide_drafts_first_then_improves_the_best():
    search = AideGreedy(AideConfig(debug_prob=0.0, **TOY))
    _start(search)
    drafts = [search.ask() for _ in range(5)]
    assert [p.operator for p in drafts] == ["draft"] * 5
    for p, score in zip(drafts, [0.6, 0.9, 0.7, 0.5, 0.8], strict=True):
        search.tell(p, _node(p, score))
    improve = search.ask()
    assert improve.operator == "improve" and improve.parents == (drafts[1].id,)
    # The best is being extended: the next worker improves the second best, never the same node.
    second = search.ask()
    assert second.operator == "improve" and second.parents == (drafts[4].id,)


def test_aide_debugs_buggy_leaves_within_the_depth_limit():
    search = AideGreedy(AideConfig(debug_prob=1.0, max_debug_depth=1, num_drafts=1, **TOY))
    _start(search)
    draft = search.ask()
    search.tell(draft, _node(draft, buggy=True))
    fix1 = search.ask()
    assert fix1.operator == "debug" and fix1.parents == (draft.id,)
    search.tell(fix1, _node(fix1, buggy=True))
    fix2 = search.ask()  # depth 1 <= 1: still debuggable
    assert fix2.operator == "debug" and fix2.parents == (fix1.id,)
    search.tell(fix2, _node(fix2, buggy=True))
    nxt = search.ask()  # depth 2 > 1 and no good node: a new draft
    assert nxt.operator == "draft"


def test_mcts_expands_the_root_then_follows_uct_and_backs_up():
    search = AiraMcts(MctsConfig(children=2, **TOY))
    _start(search)
    a, b = search.ask(), search.ask()
    assert (a.operator, b.operator) == ("draft", "draft")
    search.tell(a, _node(a, 0.9))
    search.tell(b, _node(b, 0.5))
    nxt = search.ask()
    assert nxt.operator == "improve" and nxt.parents == (a.id,)  # higher normalised Q
    assert search.root.visits == 2 and search.nodes[a.id].value_sum == 0.9
    search.tell(nxt, _node(nxt, buggy=True))
    fix = search.ask()
    assert fix.operator == "debug" and fix.parents == (nxt.id,)
    assert search.nodes[a.id].visits == 1  # the unfixed branch backed up nothing
    search.tell(fix, _node(fix, 0.95))
    assert search.nodes[a.id].visits == 2 and search.root.visits == 3


def test_mcts_uct_formula():
    search = AiraMcts(MctsConfig(c=0.25, **TOY))
    _start(search)
    p = search.ask()
    search.tell(p, _node(p, 1.0))
    q = search.ask()
    search.tell(q, _node(q, 0.0))
    node = search.nodes[p.id]
    import math

    assert search.uct(node, 4) == pytest.approx(1.0 + 0.25 * math.sqrt(math.log(4) / 1))


def test_evolution_generations_crossover_and_admission():
    search = AiraEvolutionary(EvolutionConfig(generation_size=3, crossover_prob=1.0, **TOY))
    _start(search)
    gen0 = [search.ask() for _ in range(3)]
    assert [p.operator for p in gen0] == ["draft"] * 3
    assert search.ask() is None  # generation 0 still running
    for p, score in zip(gen0, [0.2, 0.8, 0.6], strict=True):
        search.tell(p, _node(p, score))
    # 0.2 founds the population; 0.8 and 0.6 reach the running mean and join.
    assert [n.id for n in search.population] == [p.id for p in gen0]
    gen1 = search.ask()
    assert search.generation == 1 and gen1.operator == "improve"
    search.tell(gen1, _node(gen1, 0.1))  # below the mean fitness: not admitted
    assert gen1.id not in {n.id for n in search.population}
    for _ in range(2):
        p = search.ask()
        search.tell(p, _node(p, 0.9))
    gen2 = search.ask()
    assert search.generation == 2 and gen2.operator == "crossover" and len(gen2.parents) == 2


def test_evolution_samples_fitter_parents_more_often():
    search = AiraEvolutionary(EvolutionConfig(generation_size=2, **TOY))
    _start(search)
    low, high = search.ask(), search.ask()
    search.tell(low, _node(low, 0.0))
    search.tell(high, _node(high, 1.0))
    counts = Counter(search._sample().id for _ in range(2000))
    # softmax with temperature 1 over normalised fitness 0 and 1: e / (1 + e) = 0.73
    assert counts[high.id] / 2000 == pytest.approx(0.731, abs=0.04)


def test_ml_master_caps_rewards_and_decaying_exploration():
    search = MlMaster(MlMasterConfig(max_drafts=2, max_improves=1, **TOY))
    context = _start(search)
    a, b = search.ask(), search.ask()
    assert (a.operator, b.operator) == ("draft", "draft")
    search.tell(a, _node(a, 0.5))
    search.tell(b, _node(b, buggy=True))
    assert search.nodes[a.id].value_sum == 2.0  # valid + new global best
    assert search.nodes[b.id].value_sum == -1.0
    nxt = search.ask()
    assert (nxt.operator, nxt.parents) == ("improve", (a.id,))
    search.tell(nxt, _node(nxt, 0.4))  # valid, not a new best: +1
    assert search.nodes[nxt.id].value_sum == 1.0
    deeper = search.ask()  # UCT prefers a's subtree (mean reward 1.5 against -1)
    assert (deeper.operator, deeper.parents) == ("improve", (nxt.id,))
    assert search.exploration() == pytest.approx(1.414)
    context.time_used = 1.0
    assert search.exploration() == pytest.approx(0.5)


@pytest.mark.parametrize("cls", [AideGreedy, AiraMcts, AiraEvolutionary, MlMaster])
def test_best_follows_the_metric_direction(cls):
    search = cls(type(cls().config)(**TOY))
    _start(search, lower=True)
    proposals = [search.ask() for _ in range(2)]
    for p, score in zip(proposals, [3.0, 1.0], strict=True):
        search.tell(p, _node(p, score))
    assert [n.score for n in search.best(2)] == [1.0, 3.0]


def test_ml_master_debugs_a_buggy_node_once():
    search = MlMaster(MlMasterConfig(max_drafts=1, **TOY))
    _start(search)
    draft = search.ask()
    search.tell(draft, _node(draft, buggy=True))
    fix = search.ask()
    assert (fix.operator, fix.parents) == ("debug", (draft.id,))
    search.tell(fix, _node(fix, buggy=True))
    again = search.ask()
    assert (again.operator, again.parents) == ("debug", (fix.id,))  # 1 debug per node, chained


class _RecordingIdeas:
    """An idea source that proposes `a = 1` every time and keeps the states it was shown."""

    def __init__(self):
        self.states = []

    def estimate(self, state, context):
        self.states.append(state)
        return Direction(Hypothesis("set a to 1", component="model", edit={"a": 1.0}))


def test_an_improvement_sees_the_changes_already_tried_from_its_node():
    search = AideGreedy(AideConfig(debug_prob=0.0, num_drafts=1, **TOY))
    context = _start(search, lower=True)
    search.ideas = ideas = _RecordingIdeas()
    draft = search.ask()
    search.tell(draft, _node(draft, 0.5))
    outcomes = [0.7, 0.4]  # the first change made it worse, the second better
    for score in outcomes:
        proposal = search.ask()
        assert proposal.operator == "improve" and proposal.parents == (draft.id,)
        candidate = search.develop(proposal, context)
        search.tell(proposal, _node(proposal, score))
        assert candidate.direction.chosen.edit == {"a": 1.0}
    first, second = ideas.states
    assert first.failures == () and first.successes == ()
    (tried,) = second.failures
    assert (tried.hypothesis.statement, tried.accepted) == ("set a to 1", False)
    assert (tried.score_before, tried.score_after) == (0.5, 0.7)
    # The better child is the best now: its own improvement starts with nothing tried from it.
    proposal = search.ask()
    assert proposal.parents == (f"n{2:04d}",)
    search.develop(proposal, context)
    assert ideas.states[-1].failures == () and ideas.states[-1].best.score == 0.4
