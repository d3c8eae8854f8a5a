"""Registers the hierarchical validators."""

from __future__ import annotations

from gome_core.hookspecs import RegisterComponent, hookimpl


@hookimpl
def register_validators(register: RegisterComponent) -> None:
    from gome_validators.validators import (
        DebugRunValidator,
        FullRunValidator,
        JudgeConfig,
        JudgeValidator,
        RunValidatorConfig,
    )

    register(DebugRunValidator, name="debug-run", config=RunValidatorConfig)
    register(FullRunValidator, name="full-run", config=RunValidatorConfig)
    register(JudgeValidator, name="judge", config=JudgeConfig)
