"""Executors that ship with the core."""

from gome_core.executors.local import LocalExecutor, LocalExecutorConfig, scrubbed_environment
from gome_core.executors.reuse import ReusingExecutor, run_key

__all__ = [
    "LocalExecutor",
    "LocalExecutorConfig",
    "ReusingExecutor",
    "run_key",
    "scrubbed_environment",
]
