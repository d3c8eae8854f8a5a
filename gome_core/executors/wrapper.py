"""A base for executors that wrap another one and change only how requests are run."""

from __future__ import annotations

from typing import Any

from gome_core.interfaces import Executor
from gome_core.types import ExecutionRequest, ExecutionResult

__all__ = ["ExecutorWrapper"]


class ExecutorWrapper(Executor):
    """Hands every call to ``inner``; a subclass overrides :meth:`run` (and what else it adds).

    Attributes the wrapper lacks are looked up on ``inner``, so an executor's own extras stay
    reachable through any number of wrappers.
    """

    def __init__(self, inner: Executor) -> None:
        self.inner = inner

    def run(self, request: ExecutionRequest) -> ExecutionResult:
        return self.inner.run(request)

    def cancel(self) -> None:
        self.inner.cancel()

    def hardware(self) -> dict[str, object]:
        return self.inner.hardware()

    def close(self) -> None:
        self.inner.close()

    def __getattr__(self, name: str) -> Any:
        if name == "inner":  # not set yet (a copy, an unpickling): no endless lookup
            raise AttributeError(name)
        return getattr(self.inner, name)
