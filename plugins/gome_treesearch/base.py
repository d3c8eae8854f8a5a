"""What every tree-search policy shares: the tree, the operators, parallel bookkeeping.

A policy only decides *which node to extend with which operator* (:meth:`TreeSearch.select`) and
how to learn from a result (:meth:`TreeSearch.learn`). Operators are implementers: ``draft``,
``improve``, ``debug``, ``crossover``; an improvement's atomic change comes from an idea source (a
gradient estimator that sees the node and what was already tried from it, as AIDE's prompts show
earlier attempts; no success memory along a trajectory), so the same LLM or offline reasoner serves
Gome and tree search alike. Several steps may be in flight; a node being extended is locked so that
no node is expanded twice at once (policies that count visits add a virtual loss instead).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Sequence

import attrs
from attrs import define, frozen

from gome_core.config import GradientEstimatorSpec, ImplementerSpec
from gome_core.interfaces import GradientEstimator, Implementer, Optimizer, RunContext
from gome_core.logs import get_logger
from gome_core.types import (
    Candidate,
    CodeRequest,
    Direction,
    Hypothesis,
    MemoryEntry,
    Metric,
    Node,
    Proposal,
    TraceState,
)

__all__ = ["Choice", "TreeNode", "TreeSearch", "TreeSearchConfig"]

log = get_logger(__name__)

ROOT = "root"


@frozen
class TreeSearchConfig:
    """Settings every tree search shares (the policies add their own)."""

    implementer: ImplementerSpec = ImplementerSpec("offline")  # type: ignore[valid-type]
    ideas: GradientEstimatorSpec = GradientEstimatorSpec("offline")  # type: ignore[valid-type]
    seed_offset: int = 0


@define(eq=False)
class TreeNode:
    """A node of the search tree: the evaluated candidate plus search statistics."""

    id: str
    parent: TreeNode | None
    operator: str
    node: Node | None = None  # None while in flight (and for the root)
    children: list[TreeNode] = attrs.Factory(list)
    debug_depth: int = 0
    visits: int = 0
    value_sum: float = 0.0
    in_flight: bool = False
    generation: int = 0
    direction: Direction | None = None  # an improvement's change, known once it is developed

    @property
    def buggy(self) -> bool:
        return self.node is None or self.node.buggy

    @property
    def score(self) -> float | None:
        return None if self.node is None or self.node.buggy else self.node.score

    @property
    def is_leaf(self) -> bool:
        return not self.children

    def path(self) -> list[TreeNode]:
        """From the root down to this node."""
        out, node = [], self
        while node is not None:
            out.append(node)
            node = node.parent
        return out[::-1]


@frozen
class Choice:
    """What a policy decided: the operator, the node to extend and, for crossover, the mate."""

    operator: str
    parent: TreeNode
    mate: TreeNode | None = None


class TreeSearch(Optimizer):
    """Base of the tree-search optimizers."""

    def __init__(self, config: TreeSearchConfig) -> None:
        self.config = config
        self.lock = threading.Lock()
        self.root = TreeNode(ROOT, None, "root")
        self.nodes: dict[str, TreeNode] = {}
        self.metric = Metric("score")
        self.rng = random.Random(0)
        self.issued = 0
        self.steps_told = 0
        self.implementer: Implementer
        self.ideas: GradientEstimator

    # ------------------------------------------------------------------ policy interface

    def select(self) -> Choice | None:
        """The next expansion, or ``None`` when nothing can start now. Called under the lock."""
        raise NotImplementedError

    def learn(self, tree_node: TreeNode) -> None:
        """Update the policy's statistics after ``tree_node`` was evaluated (under the lock)."""

    # ------------------------------------------------------------------ shared machinery

    def start(self, context: RunContext) -> None:
        self.metric = context.competition.metric
        self.rng = random.Random(context.seed * 7919 + self.config.seed_offset)
        self.implementer = self.config.implementer.create()
        self.ideas = self.config.ideas.create()

    def good(self) -> list[TreeNode]:
        return [n for n in self.nodes.values() if n.node is not None and not n.buggy]

    def best_node(self, exclude_in_flight: bool = False) -> TreeNode | None:
        best = None
        for n in self.good():
            if exclude_in_flight and n.in_flight:
                continue
            if best is None or self.metric.better(n.score, best.score):
                best = n
        return best

    def normalised(self, score: float | None) -> float:
        """``score`` mapped to [0, 1] over the scores seen so far, 1 being the best."""
        scores = [n.score for n in self.good() if n.score is not None]
        if score is None or not scores:
            return 0.0
        low, high = min(scores), max(scores)
        if high == low:
            return 1.0
        value = (score - low) / (high - low)
        return 1.0 - value if self.metric.lower_is_better else value

    def ask(self) -> Proposal | None:
        with self.lock:
            choice = self.select()
            if choice is None:
                return None
            node_id = f"n{self.issued:04d}"
            self.issued += 1
            parent = choice.parent
            child = TreeNode(
                node_id,
                parent,
                choice.operator,
                in_flight=True,
                debug_depth=parent.debug_depth + 1 if choice.operator == "debug" else 0,
                generation=getattr(self, "generation", 0),
            )
            parent.children.append(child)
            parent.in_flight = parent is not self.root and choice.operator != "crossover"
            self.nodes[node_id] = child
            parents = tuple(n.id for n in (parent, choice.mate) if n is not None and n.id != ROOT)
            return Proposal(
                node_id,
                choice.operator,
                parents=parents,
                payload={"mate": choice.mate.id if choice.mate else None},
            )

    def develop(self, proposal: Proposal, context: RunContext) -> Candidate:
        with self.lock:
            tree_node = self.nodes[proposal.id]
            base = tree_node.parent.node if tree_node.parent is not self.root else None
            mate_id = (proposal.payload or {}).get("mate")
            mate = self.nodes[mate_id].node if mate_id else None
        direction = None
        if proposal.operator == "improve" and base is not None:
            # The atomic change comes from an idea source that sees this node and the changes
            # already tried from it: without them a deterministic reasoner proposes the same
            # change to the same node again and again, where an LLM shown them would not.
            with self.lock:
                tried, in_flight = self._tried_from(tree_node)
            state = TraceState(
                trace=0,
                step=self.issued,
                best=base,
                history=(base,),
                successes=tuple(e for e in tried if e.accepted),
                failures=tuple(e for e in tried if not e.accepted),
                avoid=in_flight,
                time_used=context.time_used,
            )
            direction = self.ideas.estimate(state, context)
            with self.lock:
                tree_node.direction = direction
        request = CodeRequest(
            operator=proposal.operator,
            candidate_id=proposal.id,
            base=base,
            direction=direction,
            others=(mate,) if mate is not None else (),
            feedback=_feedback(base) if proposal.operator == "debug" else "",
        )
        candidate = self.implementer.implement(request, context)
        return attrs.evolve(
            candidate,
            id=proposal.id,
            parents=proposal.parents,
            operator=proposal.operator,
            direction=direction,
        )

    def _tried_from(
        self, tree_node: TreeNode
    ) -> tuple[tuple[MemoryEntry, ...], tuple[Hypothesis, ...]]:
        """The improvements of ``tree_node``'s parent made before it: finished ones as memory
        entries (accepted when they beat the parent), those still in flight as ideas to avoid.
        Called under the lock."""
        parent = tree_node.parent
        if parent is None or parent.node is None:
            return (), ()
        tried: list[MemoryEntry] = []
        in_flight: list[Hypothesis] = []
        for sibling in parent.children:
            if sibling is tree_node or sibling.operator != "improve":
                continue
            direction = sibling.direction or (
                sibling.node.candidate.direction if sibling.node is not None else None
            )
            if direction is None:
                continue
            if sibling.node is None:
                in_flight.append(direction.chosen)
                continue
            after = sibling.score
            tried.append(
                MemoryEntry(
                    trace=0,
                    step=len(tried),
                    hypothesis=direction.chosen,
                    accepted=after is not None and self.metric.better(after, parent.score),
                    node_id=sibling.id,
                    score_before=parent.score,
                    score_after=after,
                )
            )
        return tuple(tried), tuple(in_flight)

    def tell(self, proposal: Proposal, node: Node) -> None:
        with self.lock:
            tree_node = self.nodes.get(proposal.id)
            if tree_node is None:  # replayed from the journal: rebuild the tree as it was
                tree_node = self._restore(proposal)
            tree_node.node = node
            tree_node.in_flight = False
            if tree_node.parent is not None:
                tree_node.parent.in_flight = False
            self.issued = max(self.issued, int(proposal.id[1:]) + 1)
            self.steps_told += 1
            self.learn(tree_node)

    def _restore(self, proposal: Proposal) -> TreeNode:
        parent = self.nodes.get(proposal.parents[0]) if proposal.parents else self.root
        if parent is None:
            parent = self.root
        node = TreeNode(
            proposal.id,
            parent,
            proposal.operator,
            debug_depth=parent.debug_depth + 1 if proposal.operator == "debug" else 0,
            generation=getattr(self, "generation", 0),
        )
        parent.children.append(node)
        self.nodes[proposal.id] = node
        return node

    def best(self, k: int = 1) -> Sequence[Node]:
        with self.lock:
            good = [n for n in self.good() if n.score is not None]
        good.sort(key=lambda n: n.score if self.metric.lower_is_better else -n.score)
        return [n.node for n in good[:k] if n.node is not None]


def _feedback(node: Node | None) -> str:
    if node is None:
        return ""
    lines = [node.error or ""]
    for report in node.reports:
        if not report.passed:
            lines += list(report.reasons)
    if node.result is not None and node.result.stderr_tail:
        lines.append(node.result.stderr_tail[-4000:])
    return "\n".join(line for line in lines if line)
