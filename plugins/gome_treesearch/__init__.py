"""Tree-search optimizers: AIDE greedy, AIRA MCTS, AIRA evolutionary, ML-Master UCT."""

from gome_treesearch.base import Choice, TreeNode, TreeSearch, TreeSearchConfig
from gome_treesearch.policies import (
    AideConfig,
    AideGreedy,
    AiraEvolutionary,
    AiraMcts,
    EvolutionConfig,
    MctsConfig,
    MlMaster,
    MlMasterConfig,
)

__all__ = [
    "AideConfig",
    "AideGreedy",
    "AiraEvolutionary",
    "AiraMcts",
    "Choice",
    "EvolutionConfig",
    "MctsConfig",
    "MlMaster",
    "MlMasterConfig",
    "TreeNode",
    "TreeSearch",
    "TreeSearchConfig",
]
