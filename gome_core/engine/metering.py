"""LLM accounting: every call's usage is added to the step that made it and journaled."""

from __future__ import annotations

import contextvars
import time
from collections.abc import Callable
from typing import Any

import attrs

from gome_core.interfaces import LLMBackend
from gome_core.types import LLMRequest, LLMResponse, LLMUsage

__all__ = ["MeteredLLM", "StepUsage"]


class StepUsage:
    """Accumulates the LLM usage of one step (set per worker thread through a context variable)."""

    current: contextvars.ContextVar[StepUsage | None] = contextvars.ContextVar(
        "gome_step_usage", default=None
    )

    def __init__(self) -> None:
        self.usage = LLMUsage()

    def __enter__(self) -> StepUsage:
        self._token = StepUsage.current.set(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        StepUsage.current.reset(self._token)


class MeteredLLM(LLMBackend):
    """Wraps a backend: adds each call's usage to the current step and reports the call."""

    def __init__(self, inner: LLMBackend, on_call: Callable[..., Any] | None = None) -> None:
        self.inner = inner
        self.model = inner.model
        self.on_call = on_call
        self.total = LLMUsage()

    def complete(self, request: LLMRequest) -> LLMResponse:
        started = time.monotonic()
        response = self.inner.complete(request)
        usage = response.usage
        if not usage.latency_s:
            usage = attrs.evolve(usage, latency_s=time.monotonic() - started)
        if not usage.calls:
            usage = attrs.evolve(usage, calls=1)
        self.total = self.total + usage
        step = StepUsage.current.get()
        if step is not None:
            step.usage = step.usage + usage
        if self.on_call is not None:
            self.on_call(model=response.model, purpose=request.purpose, usage=usage)
        return response

    def close(self) -> None:
        self.inner.close()
