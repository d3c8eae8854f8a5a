"""The plugin's own tests: gome's conformance suite plus its specifics."""

import gome_runtime_limit
import pytest

from gome_core import Candidate, ExecutionResult, Node
from gome_core.testing import PluginSuite


class TestRuntimeLimitPlugin(PluginSuite):
    @pytest.fixture
    def plugin(self):
        return gome_runtime_limit


def _node(wall_s: float, peak: float | None = None) -> Node:
    result = ExecutionResult(exit_code=0, wall_s=wall_s, peak_memory_mb=peak)
    return Node(Candidate.from_code("c1", "print(1)"), result=result, score=0.9)


def test_rejects_slow_and_large_candidates():
    validator = gome_runtime_limit.RuntimeLimitValidator(
        gome_runtime_limit.RuntimeLimitConfig(max_wall_s=10, max_memory_mb=100)
    )
    assert validator.validate(_node(5, 50), context=None).passed
    slow = validator.validate(_node(11, 50), context=None)
    assert not slow.passed and "ran 11.0s" in slow.reasons[0]
    assert not validator.validate(_node(5, 150), context=None).passed
