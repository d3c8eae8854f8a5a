"""Registers the LLM reasoner: the ``llm`` gradient estimator and implementer, and the
``llm-judge`` validator. Light at load time: components import their parts when built."""

from __future__ import annotations

from typing import Any

from gome_core.hookspecs import RegisterComponent, hookimpl
from gome_llm.config import LLMImplementerConfig, LLMJudgeConfig, LLMReasonerConfig


def _estimator(config: LLMReasonerConfig | None = None) -> Any:
    from gome_llm.estimator import LLMGradientEstimator

    return LLMGradientEstimator(config)


def _implementer(config: LLMImplementerConfig | None = None) -> Any:
    from gome_llm.implementer import LLMImplementer

    return LLMImplementer(config)


def _judge(config: LLMJudgeConfig | None = None) -> Any:
    from gome_llm.judge import LLMJudge

    return LLMJudge(config)


@hookimpl
def register_gradient_estimators(register: RegisterComponent) -> None:
    register(
        _estimator,
        name="llm",
        config=LLMReasonerConfig,
        description="Structured reasoning by the run's LLM: problems, five-axis scored "
        "hypotheses, top-k, LLM selector with cross-trace memory and time stage.",
    )


@hookimpl
def register_implementers(register: RegisterComponent) -> None:
    register(
        _implementer,
        name="llm",
        config=LLMImplementerConfig,
        description="The run's LLM writes the whole program: draft, step, improve, debug "
        "(self-repair from the error output), crossover.",
    )


@hookimpl
def register_validators(register: RegisterComponent) -> None:
    register(
        _judge,
        name="llm-judge",
        config=LLMJudgeConfig,
        description="L3 judgement by the run's LLM: leakage, metric alignment, over-fitting.",
    )
