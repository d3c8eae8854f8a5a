import threading

import attrs
import gome_gradient.plugin
import pytest
from gome_gradient import CoordinatorConfig, GomeCoordinator, SuccessMemory
from gome_gradient.memory import similarity

from gome_core import (
    Candidate,
    Direction,
    ExecutionResult,
    Hypothesis,
    MemoryEntry,
    Metric,
    Node,
    ValidationReport,
)
from gome_core.errors import StepFailed
from gome_core.interfaces import Implementer
from gome_core.testing import PluginSuite
from gome_core.types import CompetitionRef


class TestGradientPlugin(PluginSuite):
    @pytest.fixture
    def plugin(self):
        return gome_gradient.plugin


def _entry(trace, step, statement, accepted, after=None, before=None):
    return MemoryEntry(
        trace=trace,
        step=step,
        hypothesis=Hypothesis(statement),
        accepted=accepted,
        score_before=before,
        score_after=after,
    )


def test_memory_keeps_successes_and_only_recent_failures():
    memory = SuccessMemory()
    memory.record(_entry(0, 1, "a", False))
    memory.record(_entry(0, 2, "b", False))
    memory.record(_entry(1, 3, "c", False))
    assert [e.hypothesis.statement for e in memory.failures(0)] == ["a", "b"]
    memory.record(_entry(0, 4, "d", True, after=0.8, before=0.7))
    assert memory.failures(0) == [] and len(memory.failures(1)) == 1
    memory.record(_entry(0, 5, "e", False))
    assert [e.hypothesis.statement for e in memory.failures(0)] == ["e"]
    assert [e.hypothesis.statement for e in memory.successes()] == ["d"]
    assert memory.successes(1) == []


def test_recall_prefers_similar_recent_steps_of_other_traces_and_keeps_the_global_best():
    memory = SuccessMemory()
    memory.metric = Metric("auc")
    memory.record(_entry(1, 1, "log transform the skewed target", True, after=0.70, before=0.6))
    memory.record(
        _entry(1, 2, "add tf-idf features of the text column", True, after=0.72, before=0.70)
    )
    memory.record(
        _entry(2, 3, "ensemble gradient boosting and forests", True, after=0.90, before=0.8)
    )
    memory.record(_entry(0, 4, "tf-idf on the text column", True, after=0.5, before=0.4))
    recalled = memory.recall("use the text column with tf-idf", k=2, exclude_trace=0)
    statements = [e.hypothesis.statement for e in recalled]
    assert statements[0] == "add tf-idf features of the text column"
    assert "ensemble gradient boosting and forests" in statements  # the global best, always
    assert all(e.trace != 0 for e in recalled)
    assert memory.recall("anything", k=0) == []


def test_recall_weighs_a_gain_from_a_previous_score_of_zero():
    # A previous score of exactly 0.0 is a score: the step from 0.0 to 0.6 is the larger gain.
    memory = SuccessMemory()  # no metric: no global best is added
    memory.record(_entry(1, 1, "alpha", True, after=0.6, before=0.0))
    memory.record(_entry(2, 2, "beta", True, after=0.55, before=0.5))
    memory.record(_entry(3, 3, "gamma", True, after=0.4, before=None))  # a first draft: gain 0
    recalled = memory.recall("unrelated words only", k=3)
    assert [e.hypothesis.statement for e in recalled] == ["alpha", "beta", "gamma"]


def test_similarity_is_a_cosine():
    assert similarity("tf-idf text features", "text features tf-idf") == pytest.approx(1.0)
    assert similarity("random forest", "text features") == 0.0


def test_coordinator_balances_traces_and_forces_diversity_until_acceptance():
    coordinator = GomeCoordinator()
    coordinator.start(3)
    assert coordinator.next_trace(frozenset()) == 0
    assert coordinator.next_trace(frozenset({0})) == 1
    assert coordinator.next_trace(frozenset({0, 1, 2})) is None
    coordinator.record(0, Hypothesis("random forest"), accepted=False)
    coordinator.record(1, Hypothesis("linear model"), accepted=True)
    assert coordinator.next_trace(frozenset()) == 2  # fewest steps first
    assert [h.statement for h in coordinator.avoid(2)] == ["random forest", "linear model"]
    assert coordinator.avoid(1) == []  # accepted once: free to follow its own path
    quiet = GomeCoordinator(CoordinatorConfig(diversify=False))
    quiet.start(2)
    quiet.record(0, Hypothesis("x"), accepted=False)
    assert quiet.avoid(1) == []


def test_siblings_in_flight_are_pursued_until_recorded():
    coordinator = GomeCoordinator()
    coordinator.start(3)
    coordinator.propose(0, Hypothesis("random forest"))
    coordinator.propose(1, Hypothesis("linear model"))
    assert [h.statement for h in coordinator.pursuing(2)] == ["random forest", "linear model"]
    assert [h.statement for h in coordinator.pursuing(0)] == ["linear model"]  # not its own
    coordinator.record(0, Hypothesis("random forest"), accepted=False)
    # Finished: no longer in flight, now among the hypotheses to avoid.
    assert [h.statement for h in coordinator.pursuing(2)] == ["linear model"]
    assert [h.statement for h in coordinator.avoid(2)] == ["random forest"]
    coordinator.record(2, Hypothesis("svm"), accepted=True)
    assert coordinator.pursuing(2) == []  # accepted once: free to follow its own path


def test_diversifying_traces_choose_one_at_a_time():
    coordinator = GomeCoordinator()
    coordinator.start(2)
    order: list[str] = []
    second_started = threading.Event()

    def second_trace():
        second_started.set()
        with coordinator.choosing(1):
            order.append(f"trace 1 sees {[h.statement for h in coordinator.pursuing(1)]}")

    with coordinator.choosing(0):
        worker = threading.Thread(target=second_trace)
        worker.start()
        second_started.wait()
        worker.join(timeout=0.2)
        assert worker.is_alive()  # waits for trace 0 to choose
        coordinator.propose(0, Hypothesis("random forest"))
        order.append("trace 0 chose")
    worker.join(timeout=5)
    assert order == ["trace 0 chose", "trace 1 sees ['random forest']"]
    # Once a trace has an acceptance its choices wait for nobody.
    coordinator.record(1, Hypothesis("linear model"), accepted=True)
    with coordinator.choosing(0), coordinator.choosing(1):
        pass


def test_stage_follows_the_time_used():
    coordinator = GomeCoordinator()
    assert [coordinator.stage(t) for t in (0.05, 0.5, 0.8)] == ["draft", "improve", "ensemble"]


def _node(node_id, score, trace=0, buggy=False):
    direction = Direction(Hypothesis(f"idea {node_id}"))
    candidate = Candidate.from_code(node_id, "", trace=trace, direction=direction)
    result = ExecutionResult(exit_code=1 if buggy else 0)
    return Node(candidate, result, (ValidationReport.ok("v", score=score),), score=score)


class _Context:
    competition = CompetitionRef("c", ".", "", Metric("mae", lower_is_better=True))
    time_used = 0.0
    emit = None


@pytest.fixture
def optimizer(toy_registry):
    from gome_gradient import GomeConfig, GomeOptimizer

    from gome_core.config import resolve

    config = resolve(preset="toy", registry=toy_registry).config.optimizer.config
    opt = GomeOptimizer(
        GomeConfig(traces=2, estimator=config.estimator, implementer=config.implementer)
    )
    opt.start(_Context())
    return opt


def test_one_step_in_flight_per_trace_and_drafts_first(optimizer):
    first, second = optimizer.ask(), optimizer.ask()
    assert (first.trace, second.trace) == (0, 1)
    assert first.operator == second.operator == "draft"
    assert optimizer.ask() is None  # both traces busy
    optimizer.tell(first, _node(first.id, 3.0))
    third = optimizer.ask()
    assert third.trace == 0 and third.operator == "step" and third.parents == (first.id,)


def test_acceptance_needs_a_valid_improvement_in_the_metric_direction(optimizer):
    p = optimizer.ask()
    optimizer.tell(p, _node(p.id, 3.0))
    for score, buggy, accepted in ((4.0, False, False), (1.0, True, False), (2.0, False, True)):
        p = optimizer.ask()
        if p.trace != 0:
            optimizer.tell(p, _node(p.id, 9.0, trace=p.trace, buggy=True))
            p = optimizer.ask()
        optimizer.tell(p, _node(p.id, score, buggy=buggy))
        assert (optimizer.trace_bests()[0].score == score) is accepted
    assert [n.score for n in optimizer.best(2)] == [2.0, 3.0]  # lower is better; buggy excluded
    successes = optimizer.momentum.successes(0)
    assert [e.score_after for e in successes] == [3.0, 2.0]


class _BrokenWriter(Implementer):
    def implement(self, request, context):
        raise RuntimeError("the code writer is down")


def test_a_step_that_fails_after_choosing_is_remembered_by_its_direction(optimizer):
    optimizer.implementer = _BrokenWriter()
    proposal = optimizer.ask()
    with pytest.raises(StepFailed) as failure:
        optimizer.develop(proposal, _Context())
    assert "the code writer is down" in str(failure.value.__cause__)
    chosen = optimizer.coordinator.pursuing(1)[0]  # the sibling sees it while it is in flight
    # The engine records the step with the candidate the error carries: its direction, no code.
    failed = failure.value.candidate
    assert (failed.id, failed.trace, failed.files) == (proposal.id, 0, {})
    assert failed.direction.chosen == chosen
    optimizer.tell(proposal, Node(failed, error="RuntimeError: the code writer is down"))
    assert [e.hypothesis for e in optimizer.momentum.failures(0)] == [chosen]
    assert optimizer.coordinator.avoid(1) == [chosen] and optimizer.coordinator.pursuing(1) == []


class _Rewriter(Implementer):
    """Repairs by rewriting the code without the direction's change, and says so."""

    def implement(self, request, context):
        rewrite = Hypothesis("Debug: the robust default pipeline.")
        dropped = attrs.evolve(request.direction, chosen=rewrite, dropped=request.direction.chosen)
        return Candidate.from_code(request.candidate_id, "print(1)", direction=dropped)


@pytest.mark.parametrize("accepted", [False, True])
def test_a_change_its_repair_dropped_is_remembered_as_failed(optimizer, accepted):
    first = optimizer.ask()
    optimizer.tell(first, _node(first.id, 3.0))  # trace 0's best: 3.0 (lower is better)
    optimizer.tell(optimizer.ask(), _node("t1", 9.0, trace=1, buggy=True))  # still diversifying
    proposal = optimizer.ask()
    knn = Direction(Hypothesis("Switch to knn", edit={"model.family": "knn"}))
    broken = Node(
        Candidate.from_code(proposal.id, "raise SystemExit(1)", trace=0, direction=knn),
        ExecutionResult(exit_code=1),
    )
    optimizer.implementer = _Rewriter()
    fixed = optimizer.repair(broken, ValidationReport.fail("runs", "exit 1", level=1), _Context())
    assert fixed.direction.dropped == knn.chosen and fixed.trace == 0
    score = 2.0 if accepted else 4.0
    ran = (ValidationReport.ok("v", score=score),)
    optimizer.tell(proposal, Node(fixed, ExecutionResult(exit_code=0), ran, score=score))
    successes = [e.hypothesis for e in optimizer.momentum.successes(0)]
    failures = [e.hypothesis for e in optimizer.momentum.failures(0)]
    assert knn.chosen not in successes  # never credited to code without it
    assert knn.chosen in optimizer.coordinator.avoid(1)  # the sibling still steers clear of it
    if accepted:  # an acceptance clears the trace's failures, as always
        assert successes[-1] == fixed.direction.chosen and failures == []
    else:
        assert failures == [knn.chosen, fixed.direction.chosen]
