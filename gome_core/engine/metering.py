"""LLM accounting: every call's usage is added to the step that made it and journaled."""

from __future__ import annotations

import contextlib
import contextvars
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import attrs

from gome_core.interfaces import LLMBackend
from gome_core.llm.errors import LLMError, LLMUnavailableError
from gome_core.types import LLMRequest, LLMResponse, LLMUsage

__all__ = ["MeteredLLM", "StepUsage", "developing"]


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


_DEVELOPING: contextvars.ContextVar[bool] = contextvars.ContextVar("gome_developing", default=False)


@contextlib.contextmanager
def developing() -> Iterator[None]:
    """Mark the LLM calls made inside as a step's development (its code being chosen or
    written), which the time limit cuts off, unlike a validator's judgement of code already run."""
    token = _DEVELOPING.set(True)
    try:
        yield
    finally:
        _DEVELOPING.reset(token)


class MeteredLLM(LLMBackend):
    """Wraps a backend: adds each call's usage to the current step and reports the call.

    A call that fails after the provider was paid (exhausted repair rounds, retries given up)
    counts too: its usage travels on the :class:`~gome_core.llm.errors.LLMError`. The backend's
    own events (retries, repair rounds, rejected parameters) go to ``on_event`` when the backend
    offers them (an ``on_event`` attribute, as provider backends have). Once ``stopping`` is set,
    calls are refused unsent, as interrupted ones: a stopping run starts no new LLM work. Once
    ``time_up`` is set, so are calls made while :func:`developing`.
    """

    def __init__(
        self,
        inner: LLMBackend,
        on_call: Callable[..., Any] | None = None,
        on_event: Callable[..., Any] | None = None,
        stopping: threading.Event | None = None,
        time_up: threading.Event | None = None,
    ) -> None:
        self.inner = inner
        self.stopping = stopping
        self.time_up = time_up
        self.model = inner.model
        self.context_window = inner.context_window
        self.on_call = on_call
        self.total = LLMUsage()
        self._lock = threading.Lock()
        self._judging = 0  # calls in progress not made while developing
        if on_event is not None and hasattr(inner, "on_event") and inner.on_event is None:
            inner.on_event = on_event

    def complete(self, request: LLMRequest) -> LLMResponse:
        if self.stopping is not None and self.stopping.is_set():
            raise LLMUnavailableError(
                "the run is stopping: the call was not sent", kind="interrupted"
            )
        judging = not _DEVELOPING.get()
        with self._lock:
            if not judging and self.time_up is not None and self.time_up.is_set():
                raise LLMUnavailableError(
                    "the run's time is up: the call was not sent", kind="interrupted"
                )
            self._judging += judging
        started = time.monotonic()
        try:
            response = self.inner.complete(request)
        except LLMError as exc:
            if exc.usage.calls or exc.usage.input_tokens or exc.usage.output_tokens:
                self._count(exc.usage, started, self.model, request.purpose, failed=True)
            raise
        finally:
            with self._lock:
                self._judging -= judging
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

    def interrupt_developing(self) -> bool:
        """Interrupt the calls in progress when all were made while :func:`developing`.

        A backend interrupts all its calls at once, so while another call (a validator's) is in
        progress nothing is interrupted: ``False``; the caller tries again later.
        """
        with self._lock:  # no call starts between the count and the interrupt
            if self._judging:
                return False
            self.inner.interrupt()
            return True
