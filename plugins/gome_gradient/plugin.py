"""Registers the Gome optimizer, its memory and coordinator, and the paper's presets."""

from __future__ import annotations

from gome_core.hookspecs import RegisterComponent, RegisterPreset, hookimpl

_PAPER = "Zhang et al., Reasoning as Gradient, Findings of ACL 2026 (arXiv 2603.01692)"
_VALIDATORS = ["debug-run", "full-run", "judge"]


@hookimpl
def register_optimizers(register: RegisterComponent) -> None:
    from gome_gradient.optimizer import GomeConfig, GomeOptimizer

    register(GomeOptimizer, name="gome", config=GomeConfig)


@hookimpl
def register_momentum(register: RegisterComponent) -> None:
    from gome_gradient.memory import SuccessMemory, SuccessMemoryConfig

    register(SuccessMemory, name="success-memory", config=SuccessMemoryConfig)


@hookimpl
def register_trace_coordinators(register: RegisterComponent) -> None:
    from gome_gradient.coordinator import CoordinatorConfig, GomeCoordinator

    register(GomeCoordinator, name="gome", config=CoordinatorConfig)


def _gome(traces: int = 3, **optimizer: object) -> dict[str, object]:
    return {
        "optimizer": {"name": "gome", "traces": traces, **optimizer},
        "validators": list(_VALIDATORS),
        "engine": {"workers": traces, "final_top_k": 3},
        "budget": {"steps": 30, "hours": 12.0},
    }


def _with_llm(structured: bool = True) -> dict[str, object]:
    """With ``--llm``: the model reasons, writes the code and judges (the paper's full loop)."""
    return {
        "optimizer": {
            "estimator": {"name": "llm", "structured": structured},
            "implementer": {"name": "llm"},
        },
        "validators": [*_VALIDATORS, "llm-judge"],
    }


@hookimpl
def register_presets(register: RegisterPreset) -> None:
    register(
        _gome(),
        name="gome",
        source=_PAPER,
        description=(
            "Gome, full: 3 traces, structured reasoning, success memory."
            " Budget: 30 steps or 12 hours, whichever comes first; --hours alone does not"
            " lift the step cap (raise --steps too)."
        ),
        with_llm=_with_llm(),
    )
    register(
        _gome(estimator={"name": "offline", "structured": False}),
        name="gome-no-reasoning",
        source=f"{_PAPER}, ablation",
        description=(
            "Ablation: the direction is one unscored idea, no structured reasoning."
            " Budget: 30 steps or 12 hours, whichever comes first; --hours alone does not"
            " lift the step cap (raise --steps too)."
        ),
        with_llm=_with_llm(structured=False),
    )
    register(
        _gome(memory=False),
        name="gome-no-memory",
        source=f"{_PAPER}, ablation",
        description=(
            "Ablation: no success memory (no momentum, no cross-trace recall)."
            " Budget: 30 steps or 12 hours, whichever comes first; --hours alone does not"
            " lift the step cap (raise --steps too)."
        ),
        with_llm=_with_llm(),
    )
    register(
        _gome(traces=1),
        name="gome-single-trace",
        source=f"{_PAPER}, ablation",
        description=(
            "Ablation: one trace, no distributed optimization."
            " Budget: 30 steps or 12 hours, whichever comes first; --hours alone does not"
            " lift the step cap (raise --steps too)."
        ),
        with_llm=_with_llm(),
    )
    quick = _gome(traces=2)
    quick.update(
        budget={"steps": 6, "hours": 0.25},
        engine={"workers": 2, "final_top_k": 2, "final_seeds": [1]},
        executor={"name": "local", "timeout_s": 120},
    )
    register(
        quick,
        name="quickstart",
        source="gome",
        description="Gome with 2 traces and 6 steps: a first run in about two minutes.",
        with_llm=_with_llm(),
    )
