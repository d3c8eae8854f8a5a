"""LLM accounting: every call's usage is added to the step that made it and journaled."""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable
from typing import Any

import attrs

from gome_core.interfaces import LLMBackend
from gome_core.llm.errors import LLMError, LLMUnavailableError
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
    """Wraps a backend: adds each call's usage to the current step and reports the call.

    A call that fails after the provider was paid (exhausted repair rounds, retries given up)
    counts too: its usage travels on the :class:`~gome_core.llm.errors.LLMError`. The backend's
    own events (retries, repair rounds, rejected parameters) go to ``on_event`` when the backend
    offers them (an ``on_event`` attribute, as provider backends have). Once ``stopping`` is set,
    calls are refused unsent, as interrupted ones: a stopping run starts no new LLM work.
    """

    def __init__(
        self,
        inner: LLMBackend,
        on_call: Callable[..., Any] | None = None,
        on_event: Callable[..., Any] | None = None,
        stopping: threading.Event | None = None,
    ) -> None:
        self.inner = inner
        self.stopping = stopping
        self.model = inner.model
        self.context_window = inner.context_window
        self.on_call = on_call
        self.total = LLMUsage()
        self._lock = threading.Lock()
        if on_event is not None and hasattr(inner, "on_event") and inner.on_event is None:
            inner.on_event = on_event

    def complete(self, request: LLMRequest) -> LLMResponse:
        if self.stopping is not None and self.stopping.is_set():
            raise LLMUnavailableError(
                "the run is stopping: the call was not sent", kind="interrupted"
            )
        started = time.monotonic()
        try:
            response = self.inner.complete(request)
        except LLMError as exc:
            if exc.usage.calls or exc.usage.input_tokens or exc.usage.output_tokens:
                self._count(exc.usage, started, self.model, request.purpose, failed=True)
            raise
        self._count(response.usage, started, response.model, request.purpose)
        return response

    def _count(
        self, usage: LLMUsage, started: float, model: str, purpose: str, failed: bool = False
    ) -> None:
        if not usage.latency_s:
            usage = attrs.evolve(usage, latency_s=time.monotonic() - started)
        if not usage.calls:
            usage = attrs.evolve(usage, calls=1)
        with self._lock:
            self.total = self.total + usage
        step = StepUsage.current.get()
        if step is not None:
            step.usage = step.usage + usage
        if self.on_call is not None:
            extra = {"failed": True} if failed else {}
            self.on_call(model=model, purpose=purpose, usage=usage, **extra)

    def close(self) -> None:
        self.inner.close()

    def interrupt(self) -> None:
        self.inner.interrupt()
