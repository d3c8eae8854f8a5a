"""Hierarchical validation, cheap to expensive: a debug run, a full run, a judgement."""

from gome_validators.validators import (
    DebugRunValidator,
    FullRunValidator,
    JudgeConfig,
    JudgeValidator,
    RunValidatorConfig,
)

__all__ = [
    "DebugRunValidator",
    "FullRunValidator",
    "JudgeConfig",
    "JudgeValidator",
    "RunValidatorConfig",
]
