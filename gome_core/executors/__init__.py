"""Executors that ship with the core."""

from gome_core.executors.local import LocalExecutor, LocalExecutorConfig, scrubbed_environment

__all__ = ["LocalExecutor", "LocalExecutorConfig", "scrubbed_environment"]
