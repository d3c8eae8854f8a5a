"""A complete gome plugin in one module: the ``runtime-limit`` validator.

It rejects a candidate whose run took longer than ``max_wall_s`` seconds or more than
``max_memory_mb`` of memory, so that an agent keeps solutions that fit a deployment budget.
Use it with ``--set 'validators=[{name="runtime-limit", max_wall_s=60}]'`` or in a config file::

    [[validators]]
    name = "runtime-limit"
    max_wall_s = 60
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
            return ValidationReport.fail("runtime-limit", "the candidate has not run", level=5)
        reasons = []
        if result.wall_s > self.config.max_wall_s:
            reasons.append(f"ran {result.wall_s:.1f}s > {self.config.max_wall_s:.1f}s")
        limit = self.config.max_memory_mb
        if limit is not None and (result.peak_memory_mb or 0.0) > limit:
            reasons.append(f"peak memory {result.peak_memory_mb:.0f} MB > {limit:.0f} MB")
        if reasons:
            return ValidationReport.fail("runtime-limit", *reasons, level=5)
        return ValidationReport.ok("runtime-limit", score=node.score, level=5)


@gome_core.hookimpl
def register_validators(register):
    register(RuntimeLimitValidator, name="runtime-limit", config=RuntimeLimitConfig)
