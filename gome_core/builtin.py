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
        description=(
            "Local sandboxed subprocess per candidate: tree-wide time-out, memory cap, "
            "scrubbed env, no network, read-only input."
        ),
    )


@hookimpl
def register_llm_backends(register: RegisterComponent) -> None:
    from gome_core.llm.replay import register_replay_backend

    register_replay_backend(register)


@hookimpl
def register_cell_runners(register: RegisterComponent) -> None:
    from gome_core.study.local import LocalCellRunner, LocalCellRunnerConfig

    register(
        LocalCellRunner,
        name="local",
        config=LocalCellRunnerConfig,
        description="A pool of local worker processes, a fresh process for every cell.",
    )
