"""Registers the offline reasoner: the ``offline`` gradient estimator and implementer.

Kept light: the components (and pandas, scikit-learn) load only when a run builds them.
"""

from __future__ import annotations

from typing import Any

from gome_core.hookspecs import RegisterComponent, hookimpl
from gome_offline.config import OfflineConfig


def _estimator(config: OfflineConfig | None = None) -> Any:
    from gome_offline.estimator import OfflineGradientEstimator

    return OfflineGradientEstimator(config)


def _implementer(config: OfflineConfig | None = None) -> Any:
    from gome_offline.implementer import OfflineImplementer

    return OfflineImplementer(config)


@hookimpl
def register_gradient_estimators(register: RegisterComponent) -> None:
    register(
        _estimator,
        name="offline",
        config=OfflineConfig,
        description="Rule-based structured reasoning over real run signals (no LLM): problems, "
        "scored hypotheses, skill-controlled selection.",
    )


@hookimpl
def register_implementers(register: RegisterComponent) -> None:
    register(
        _implementer,
        name="offline",
        config=OfflineConfig,
        description="Writes readable pandas / scikit-learn (and torch CNN) programs from pipeline "
        "specs: draft, step, improve, debug, crossover.",
    )
