"""The core's own components, registered through the same hooks as any plugin."""

from __future__ import annotations

from gome_core.hookspecs import RegisterComponent, hookimpl


@hookimpl
def register_executors(register: RegisterComponent) -> None:
    from gome_core.executors.local import LocalExecutor, LocalExecutorConfig

    register(
        LocalExecutor,
        name="local",
        config=LocalExecutorConfig,
        description="Local subprocess per candidate: own session, hard time-out, scrubbed env.",
    )
