"""The offline reasoner's settings, shared by its gradient estimator and its implementer."""

from __future__ import annotations

import attrs
from attrs import field, frozen

__all__ = ["OfflineConfig"]


@frozen
class OfflineConfig:
    """Settings of the offline reasoner (every field has a default).

    ``skill`` is the probability of following the best-scored hypothesis rather than a random
    plausible one of the top ``top_k``: it stands in for model strength in scaling studies.
    ``structured=False`` is the "no structured reasoning" ablation (one unscored idea).
    """

    skill: float = field(
        default=1.0, validator=[attrs.validators.ge(0.0), attrs.validators.le(1.0)]
    )
    top_k: int = field(default=5, validator=attrs.validators.ge(1))
    structured: bool = True
    #: Cross-validation folds of drafted pipelines (at most).
    max_folds: int = field(default=5, validator=[attrs.validators.ge(2), attrs.validators.le(20)])
    #: Training rows of a ``GOME_DEBUG=1`` run of the generated programs.
    debug_rows: int = field(default=400, validator=attrs.validators.ge(20))
    #: The candidates' time-out in seconds when the executor does not say (default 3600).
    timeout_s: float | None = None
