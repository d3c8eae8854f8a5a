"""A complete gome plugin in one module: the ``runtime-limit`` validator.

It rejects a candidate whose run took longer than ``max_wall_s`` seconds or more than
``max_memory_mb`` of memory, so that an agent keeps solutions that fit a deployment budget.

It judges the measurements of the runs before it, so it goes at the end of a chain that runs the
candidate. A ``validators`` list replaces the preset's whole chain: restate the chain
(``gome config show --preset gome`` prints it) with ``runtime-limit`` added, e.g. for
``gome run --preset gome`` (with ``--llm``, that preset's chain ends with ``"llm-judge"`` too)::

    --set 'validators=["debug-run", "full-run", "judge", {name="runtime-limit", max_wall_s=60}]'

or, in a config file (``-c FILE``)::

    validators = ["debug-run", "full-run", "judge", {name = "runtime-limit", max_wall_s = 60}]
"""

from __future__ import annotations

from attrs import frozen

import gome_core
from gome_core import Node, RunContext, ValidationReport, Validator


@frozen
class RuntimeLimitConfig:
    """Settings of the runtime-limit validator (every field has a default)."""

    max_wall_s: float = 3600.0
    max_memory_mb: float | None = None


class RuntimeLimitValidator(Validator):
    """Rejects candidates that ran longer than max_wall_s or used more than max_memory_mb."""

    level = 5  # after the runs that produce the measurements

    def __init__(self, config: RuntimeLimitConfig) -> None:
        self.config = config

    def validate(self, node: Node, context: RunContext) -> ValidationReport:
        result = node.result
        if result is None:
            return ValidationReport.fail("runtime-limit", "the candidate has not run")
        reasons = []
        if result.wall_s > self.config.max_wall_s:
            reasons.append(f"ran {result.wall_s:.1f}s > {self.config.max_wall_s:.1f}s")
        limit = self.config.max_memory_mb
        if limit is not None and (result.peak_memory_mb or 0.0) > limit:
            reasons.append(f"peak memory {result.peak_memory_mb:.0f} MB > {limit:.0f} MB")
        if reasons:
            return ValidationReport.fail("runtime-limit", *reasons)
        return ValidationReport.ok("runtime-limit", score=node.score)


@gome_core.hookimpl
def register_validators(register):
    register(RuntimeLimitValidator, name="runtime-limit", config=RuntimeLimitConfig)
