"""Registers the tree-search optimizers and their presets."""

from __future__ import annotations

from gome_core.hookspecs import RegisterComponent, RegisterPreset, hookimpl

_SOURCES = {
    "aide-greedy": "AIDE (Jiang et al., 2025), aideml search defaults",
    "aira-mcts": "AIRA-dojo MCTS (Toledo et al., 2025)",
    "aira-evo": "AIRA-dojo evolutionary (Toledo et al., 2025)",
    "ml-master": "ML-Master (Liu et al., 2025)",
}
_DESCRIPTIONS = {
    "aide-greedy": "AIDE greedy: 5 drafts, debug a buggy leaf with p=0.5 (depth <= 3), "
    "else improve the best.",
    "aira-mcts": "AIRA MCTS: UCT with c=0.25 over min-max normalised Q, 5 children per node, "
    "debug chains <= 20.",
    "aira-evo": "AIRA evolutionary: generations of 5, crossover p=0.5 from generation 2, "
    "softmax parent sampling, mean admission.",
    "ml-master": "ML-Master UCT: exploration 1.414 -> 0.5, caps 5 drafts / 1 debug / 3 improves, "
    "rewards -1/+1/+2.",
}


@hookimpl
def register_optimizers(register: RegisterComponent) -> None:
    from gome_treesearch import policies

    register(policies.AideGreedy, name="aide-greedy", config=policies.AideConfig)
    register(policies.AiraMcts, name="aira-mcts", config=policies.MctsConfig)
    register(policies.AiraEvolutionary, name="aira-evo", config=policies.EvolutionConfig)
    register(policies.MlMaster, name="ml-master", config=policies.MlMasterConfig)


@hookimpl
def register_presets(register: RegisterPreset) -> None:
    for name in _SOURCES:
        register(
            {
                "optimizer": {"name": name},
                # The same validators and compute as the `gome` preset (3 steps in flight), and
                # the final answer is the best validation score; set engine.final_top_k = 3 to
                # re-validate the top candidates as Gome does.
                "validators": ["debug-run", "full-run", "judge"],
                "engine": {"workers": 3, "final_top_k": 1, "max_repairs": 0},
                "budget": {"steps": 30, "hours": 12.0},
            },
            name=name,
            description=_DESCRIPTIONS[name],
            source=_SOURCES[name],
            # With --llm the model writes every node's code and proposes the ideas.
            with_llm={"optimizer": {"implementer": "llm", "ideas": "llm"}},
        )
