"""The offline reasoner: a deterministic, rule-based stand-in for an LLM.

It drives gome's engine, validators, memory and traces without any model: the ``offline``
gradient estimator diagnoses real run signals and the ``offline`` implementer writes real
pandas / scikit-learn programs. Names load lazily, so importing this package stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

#: Public name -> module that defines it.
_EXPORTS = {
    "OfflineConfig": "gome_offline.config",
    "OfflineGradientEstimator": "gome_offline.estimator",
    "OfflineImplementer": "gome_offline.implementer",
    "DataProfile": "gome_offline.profile",
    "ProfileError": "gome_offline.profile",
    "profile_competition": "gome_offline.profile",
    "PipelineSpec": "gome_offline.spec",
    "ModelSpec": "gome_offline.spec",
    "FeatureSpec": "gome_offline.spec",
    "SpecError": "gome_offline.spec",
    "default_spec": "gome_offline.spec",
    "write_program": "gome_offline.writer",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'gome_offline' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
