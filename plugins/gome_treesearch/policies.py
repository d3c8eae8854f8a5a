"""The four tree-search policies, with their published defaults.

* **AIDE greedy** (Jiang et al., 2025): ``num_drafts`` drafts first; then, with probability
  ``debug_prob``, debug a random buggy leaf whose debug depth is at most ``max_debug_depth``;
  otherwise improve the best node.
* **AIRA MCTS** (Toledo et al., 2025): UCT = normalised Q + c·sqrt(ln N_parent / n), c = 0.25,
  Q the mean backed-up metric, min-max normalised; ``children`` expansions per node (drafts at the
  root, improvements elsewhere); a buggy child starts a debug chain (at most ``max_debug_depth``);
  a branch that is never fixed backs up nothing.
* **AIRA evolutionary** (Toledo et al., 2025): generations of ``generation_size``; generation 0
  drafts; from generation ``crossover_from`` a child is a crossover of two parents with probability
  ``crossover_prob``, else an improvement; parents sampled fitness-proportionally (softmax,
  ``temperature``); a child joins the population only if its fitness reaches the population mean.
* **ML-Master** (Liu et al., 2025): UCT with the exploration constant decaying from ``c_start`` to
  ``c_end`` over the budget; expansion caps of ``max_drafts`` drafts, ``max_debugs`` debug and
  ``max_improves`` improvements per node; rewards −1 buggy, +1 valid, +1 more for a new global best.
"""

from __future__ import annotations

import math

from attrs import frozen

from gome_core.interfaces import RunContext
from gome_treesearch.base import Choice, TreeNode, TreeSearch, TreeSearchConfig

__all__ = [
    "AideConfig",
    "AideGreedy",
    "AiraEvolutionary",
    "AiraMcts",
    "EvolutionConfig",
    "MctsConfig",
    "MlMaster",
    "MlMasterConfig",
]


def _pending_debug(
    search: TreeSearch, max_depth: int, *, inclusive: bool = False
) -> list[TreeNode]:
    """Buggy leaves that may still be debugged, oldest first."""
    out = []
    for n in search.nodes.values():
        depth_ok = n.debug_depth <= max_depth if inclusive else n.debug_depth < max_depth
        if n.node is not None and n.buggy and n.is_leaf and not n.in_flight and depth_ok:
            out.append(n)
    return out


# --------------------------------------------------------------------------- AIDE greedy


@frozen
class AideConfig(TreeSearchConfig):
    """AIDE's search settings (its defaults; MLE-bench used debug_prob 1.0 and depth 20)."""

    num_drafts: int = 5
    debug_prob: float = 0.5
    max_debug_depth: int = 3


class AideGreedy(TreeSearch):
    """AIDE's greedy policy."""

    config: AideConfig

    def __init__(self, config: AideConfig | None = None) -> None:
        super().__init__(config or AideConfig())

    def select(self) -> Choice | None:
        cfg = self.config
        if len(self.root.children) < cfg.num_drafts:
            return Choice("draft", self.root)
        if self.rng.random() < cfg.debug_prob:
            debuggable = _pending_debug(self, cfg.max_debug_depth, inclusive=True)
            if debuggable:
                return Choice("debug", self.rng.choice(debuggable))
        best = self.best_node(exclude_in_flight=True)
        if best is not None:
            return Choice("improve", best)
        if self.good():  # every good node is being extended right now
            return None
        return Choice("draft", self.root)


# --------------------------------------------------------------------------- AIRA MCTS


@frozen
class MctsConfig(TreeSearchConfig):
    """AIRA's MCTS settings."""

    c: float = 0.25
    children: int = 5
    max_debug_depth: int = 20


class AiraMcts(TreeSearch):
    """AIRA's Monte-Carlo tree search over programs."""

    config: MctsConfig

    def __init__(self, config: MctsConfig | None = None) -> None:
        super().__init__(config or MctsConfig())

    def _fixed(self, child: TreeNode) -> TreeNode | None:
        """The good end of ``child``'s debug chain (``child`` itself when it is good)."""
        node: TreeNode | None = child
        while node is not None and node.node is not None and node.buggy:
            node = next((c for c in node.children if c.operator == "debug"), None)
        return node if node is not None and node.node is not None else None

    def _q(self, node: TreeNode) -> float:
        return self.normalised(node.value_sum / node.visits) if node.visits else 0.0

    def uct(self, node: TreeNode, parent_visits: int) -> float:
        if node.visits == 0:
            return math.inf
        explore = math.sqrt(math.log(max(parent_visits, 1)) / node.visits)
        return self._q(node) + self.config.c * explore

    def select(self) -> Choice | None:
        pending = _pending_debug(self, self.config.max_debug_depth)
        if pending:
            return Choice("debug", pending[0])
        node = self.root
        while True:
            if len(node.children) < self.config.children and not node.in_flight:
                return Choice("draft" if node is self.root else "improve", node)
            options = [f for c in node.children if (f := self._fixed(c)) is not None]
            options = [
                o for o in options if not o.in_flight or len(o.children) >= self.config.children
            ]
            if not options:
                return None
            node = max(options, key=lambda o: self.uct(o, max(node.visits, 1)))

    def learn(self, tree_node: TreeNode) -> None:
        if tree_node.buggy:
            return  # a branch backs up only once it is fixed
        score = tree_node.score
        assert score is not None
        for ancestor in tree_node.path():
            ancestor.visits += 1
            ancestor.value_sum += score


# --------------------------------------------------------------------------- AIRA evolutionary


@frozen
class EvolutionConfig(TreeSearchConfig):
    """AIRA's evolutionary settings."""

    generation_size: int = 5
    crossover_prob: float = 0.5
    crossover_from: int = 2
    temperature: float = 1.0
    max_debug_depth: int = 10


class AiraEvolutionary(TreeSearch):
    """AIRA's evolutionary search: a population that admits children at or above its mean."""

    config: EvolutionConfig

    def __init__(self, config: EvolutionConfig | None = None) -> None:
        super().__init__(config or EvolutionConfig())
        self.generation = 0
        self.issued_in_generation = 0
        self.population: list[TreeNode] = []

    def _sample(self, exclude: TreeNode | None = None) -> TreeNode | None:
        pool = [n for n in self.population if n is not exclude and not n.in_flight]
        if not pool:
            return None
        weights = [math.exp(self.normalised(n.score) / self.config.temperature) for n in pool]
        return self.rng.choices(pool, weights=weights, k=1)[0]

    def select(self) -> Choice | None:
        cfg = self.config
        pending = _pending_debug(self, cfg.max_debug_depth)
        if pending:
            return Choice("debug", pending[0])
        if self.issued_in_generation >= cfg.generation_size:
            if any(n.in_flight for n in self.nodes.values()):
                return None  # the generation is not complete yet
            self.generation += 1
            self.issued_in_generation = 0
        if self.generation == 0 or not self.population:
            choice = Choice("draft", self.root)
        elif (
            self.generation >= cfg.crossover_from
            and len(self.population) >= 2
            and self.rng.random() < cfg.crossover_prob
        ):
            first = self._sample()
            second = self._sample(exclude=first)
            if first is None or second is None:
                return None
            choice = Choice("crossover", first, second)
        else:
            parent = self._sample()
            if parent is None:
                return None
            choice = Choice("improve", parent)
        self.issued_in_generation += 1
        return choice

    def learn(self, tree_node: TreeNode) -> None:
        if tree_node.buggy:
            return
        fitness = self.normalised(tree_node.score)
        if not self.population:
            self.population.append(tree_node)
            return
        mean = sum(self.normalised(n.score) for n in self.population) / len(self.population)
        if fitness >= mean:
            self.population.append(tree_node)


# --------------------------------------------------------------------------- ML-Master


@frozen
class MlMasterConfig(TreeSearchConfig):
    """ML-Master's search settings."""

    c_start: float = 1.414
    c_end: float = 0.5
    max_drafts: int = 5
    max_debugs: int = 1
    max_improves: int = 3
    max_debug_depth: int = 20


class MlMaster(TreeSearch):
    """ML-Master's UCT search with expansion caps and a decaying exploration constant."""

    config: MlMasterConfig

    def __init__(self, config: MlMasterConfig | None = None) -> None:
        super().__init__(config or MlMasterConfig())
        self.time_used = 0.0
        self.global_best: float | None = None
        self._context: RunContext | None = None

    def start(self, context: RunContext) -> None:
        super().start(context)
        self._context = context

    def exploration(self) -> float:
        used = self._context.time_used if self._context is not None else self.time_used
        cfg = self.config
        return cfg.c_start + (cfg.c_end - cfg.c_start) * min(1.0, max(0.0, used))

    def _cap(self, node: TreeNode) -> tuple[str, int] | None:
        """The operator that may still expand ``node``, and its cap."""
        cfg = self.config
        if node is self.root:
            return "draft", cfg.max_drafts
        if node.node is None:
            return None
        if node.buggy:
            return ("debug", cfg.max_debugs) if node.debug_depth < cfg.max_debug_depth else None
        return "improve", cfg.max_improves

    def uct(self, node: TreeNode, parent_visits: int) -> float:
        if node.visits == 0:
            return math.inf
        explore = math.sqrt(math.log(max(parent_visits, 1)) / node.visits)
        return node.value_sum / node.visits + self.exploration() * explore

    def select(self) -> Choice | None:
        node = self.root
        while True:
            cap = self._cap(node)
            if cap is not None and not node.in_flight:
                operator, limit = cap
                if sum(c.operator == operator for c in node.children) < limit:
                    return Choice(operator, node)
            options = [c for c in node.children if c.node is not None]
            if not options:
                return None
            node = max(options, key=lambda c: self.uct(c, max(node.visits, 1)))

    def learn(self, tree_node: TreeNode) -> None:
        if tree_node.buggy:
            reward = -1.0
        else:
            reward = 1.0
            if self.metric.better(tree_node.score, self.global_best):
                self.global_best = tree_node.score
                reward += 1.0
        for ancestor in tree_node.path():
            ancestor.visits += 1
            ancestor.value_sum += reward
