"""Executors that ship with the core."""

from gome_core.executors.local import LocalExecutor, LocalExecutorConfig, scrubbed_environment
from gome_core.executors.reuse import ReusingExecutor, input_fingerprint, run_key
from gome_core.executors.wrapper import ExecutorWrapper

__all__ = [
    "ExecutorWrapper",
    "LocalExecutor",
    "LocalExecutorConfig",
    "ReusingExecutor",
    "input_fingerprint",
    "run_key",
    "scrubbed_environment",
]
