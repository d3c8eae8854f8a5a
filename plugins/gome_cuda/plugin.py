"""The gome plugin for the GPU-aware executor (entry point ``cuda = "gome_cuda.plugin"``)."""

from __future__ import annotations

from gome_core.hookspecs import RegisterComponent, hookimpl

__all__ = ["register_executors"]


@hookimpl
def register_executors(register: RegisterComponent) -> None:
    # Imported here: loading plugins (`gome plugins`) must not read GPUs or import NVML.
    from gome_cuda.config import CudaExecutorConfig
    from gome_cuda.executor import CudaExecutor

    register(
        CudaExecutor,
        name="cuda",
        config=CudaExecutorConfig,
        description=(
            "The local sandbox with GPUs leased per trace (exclusive or packed) through "
            "CUDA_VISIBLE_DEVICES; GPU memory and utilisation measured, CUDA out-of-memory "
            "recognised."
        ),
    )
