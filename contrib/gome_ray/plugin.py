"""The gome plugin for Ray (entry point ``ray = "gome_ray.plugin"``).

Registers the ``ray`` executor and the ``ray`` cell runner. Nothing here imports Ray: the
components connect on first use, so listing plugins or building a run stays light.
"""

from __future__ import annotations

from gome_core.hookspecs import RegisterComponent, hookimpl

__all__ = ["register_cell_runners", "register_executors"]


@hookimpl
def register_executors(register: RegisterComponent) -> None:
    from gome_ray.config import RayExecutorConfig
    from gome_ray.executor import RayExecutor

    register(
        RayExecutor,
        name="ray",
        config=RayExecutorConfig,
        description=(
            "Each candidate a Ray task (CPUs, GPUs, memory reserved) on a cluster or a local "
            "instance, run in the local sandbox on its worker; files shipped where not shared."
        ),
    )


@hookimpl
def register_cell_runners(register: RegisterComponent) -> None:
    from gome_ray.cells import RayCellRunner
    from gome_ray.config import RayCellRunnerConfig

    register(
        RayCellRunner,
        name="ray",
        config=RayCellRunnerConfig,
        description="Each study cell a Ray task reserving num_cpus, on a cluster or locally.",
    )
