"""The machinery every provider backend shares: one place for retries, repairs, costs and keys.

A provider plugin subclasses :class:`ProviderBackend` and writes two methods:

* ``_send(call)`` makes one HTTP exchange with the provider (through its SDK, with the SDK's own
  retries switched off) and returns a :class:`ProviderReply`;
* ``_classify(exc)`` tells what an exception of that SDK means, as a :class:`Failure`.

:meth:`ProviderBackend.complete` does the rest, the same way for every provider: it asks for
structured output when the request has a schema, parses and validates the answer into the attrs
class, runs repair rounds (the validation problems shown to the model) up to ``repair_rounds``,
retries rate limits, server errors and time-outs with backoff that honours ``Retry-After`` (up
to ``max_retries`` and ``max_total_wait_s``), drops request parameters a model rejects (and
remembers that per model), and fills usage, cost, latency and the exact model id.
:meth:`ProviderBackend.interrupt` ends the waits in progress, for an answer or for a retry.
"""

from __future__ import annotations

import abc
import contextvars
import importlib
import json
import threading
import time
import urllib.error
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import attrs
from attrs import define, field, frozen

from gome_core.interfaces import LLMBackend
from gome_core.llm.errors import (
    LLMAuthError,
    LLMError,
    LLMRequestError,
    LLMSchemaError,
    LLMTimeoutError,
    LLMUnavailableError,
)
from gome_core.llm.keys import Secret, resolve_api_key, scrub
from gome_core.llm.pricing import ModelPrice, PriceTable, TokenCounts
from gome_core.llm.retry import Failure, RetryPolicy, find_rejected_param
from gome_core.llm.schema import (
    SchemaViolation,
    StructuredOutput,
    parse_structured,
    repair_prompt,
)
from gome_core.logs import get_logger
from gome_core.types import LLMRequest, LLMResponse, LLMUsage, Message

__all__ = [
    "BackendConfig",
    "one_of",
    "BackendStats",
    "ProviderBackend",
    "ProviderCall",
    "ProviderReply",
]

log = get_logger(__name__)


class _Interrupted(Exception):
    """:meth:`ProviderBackend.interrupt` was called while a request waited for its answer."""


def one_of(*options: object) -> Callable[[Any, Any, Any], None]:
    """A config validator whose error reads well in ``gome config`` messages."""

    def check(_: Any, attribute: Any, value: Any) -> None:
        if value not in options:
            listed = ", ".join(repr(o) for o in options)
            raise ValueError(f"{attribute.name} must be one of {listed}, got {value!r}")

    return check


_positive = attrs.validators.gt(0)
_non_negative = attrs.validators.ge(0)


@frozen
class BackendConfig:
    """Settings shared by provider backends (subclass it to add your provider's own).

    ``model`` is filled from ``--llm NAME:MODEL``. ``api_key_env`` names the environment
    variable holding the key (``""``: the server needs none). ``base_url`` points the backend at
    another server speaking the provider's protocol. ``context_window`` (tokens) is for models
    gome's table does not know: the LLM components fit their prompts to it. ``prices`` add to or
    replace the built-in price table.
    """

    model: str = ""
    api_key_env: str = ""
    base_url: str | None = None
    timeout_s: float = field(default=600.0, validator=_positive)
    max_retries: int = field(default=6, validator=_non_negative)
    backoff_initial_s: float = field(default=1.0, validator=_non_negative)
    backoff_max_s: float = field(default=60.0, validator=_non_negative)
    max_total_wait_s: float = field(default=600.0, validator=_non_negative)
    repair_rounds: int = field(default=2, validator=_non_negative)
    max_output_tokens: int | None = None
    temperature: float | None = None
    context_window: int | None = None
    prices: tuple[ModelPrice, ...] = field(default=(), converter=tuple)


@frozen
class ProviderCall:
    """One exchange to make: the conversation so far and what to ask for.

    ``options`` are the request parameters a model may reject (temperature, reasoning effort,
    the structured-output format, ...); those a model has rejected before are already left out.
    """

    model: str
    messages: tuple[Message, ...] = field(converter=tuple)
    system: str | None = None
    output: StructuredOutput | None = None
    max_output_tokens: int | None = None
    options: Mapping[str, Any] = field(factory=dict)
    timeout_s: float = 600.0
    purpose: str = "generic"


@frozen
class ProviderReply:
    """What the provider answered.

    ``data`` is the structured answer when the provider returned it already decoded (a tool
    call's input); otherwise ``text`` is parsed. ``finish`` is ``stop``, ``length`` (cut off at
    the token limit), ``refusal`` or ``other``.
    """

    text: str
    model: str = ""
    data: Any = None
    tokens: TokenCounts = TokenCounts()
    finish: str = "stop"
    refusal: str = ""


@define
class BackendStats:
    """Counters since the backend was built (read them for reports; the backend updates them)."""

    exchanges: int = 0
    retries: int = 0
    repairs: int = 0
    schema_failures: int = 0
    waited_s: float = 0.0
    rejected: dict[str, list[str]] = field(factory=dict)


class ProviderBackend(LLMBackend):
    """Base of provider backends: implement :meth:`_send` and :meth:`_classify`.

    Thread-safe: ``complete`` may run in several threads at once; the only shared state (the
    rejected parameters per model and the counters) is guarded by a lock.
    """

    #: The provider's name, for messages (``"openai"``).
    provider: ClassVar[str] = "llm"
    #: Whether the provider's strict mode enforces numeric and length bounds in the schema.
    bounds_in_schema: ClassVar[bool] = True
    #: Whether structured answers come back as a tool call (changes the repair wording).
    structured_via_tool: ClassVar[bool] = False
    #: The provider's SDK as ``(module, client class)``, e.g. ``("openai", "OpenAI")``: the base
    #: builds the client (SDK retries off, the backend retries itself) as ``self._client`` and
    #: keeps the module as ``self._sdk``. Imported when a backend is built, never at plugin load.
    sdk_client: ClassVar[tuple[str, str] | None] = None

    def __init__(self, config: BackendConfig, *, environ: Mapping[str, str] | None = None) -> None:
        self.config = config
        self.model = config.model
        self.context_window = config.context_window
        self._key: Secret = resolve_api_key(
            config.api_key_env,
            provider=self.provider,
            environ=environ,
            local_hint=config.base_url is not None,
        )
        self.policy = RetryPolicy(
            max_retries=config.max_retries,
            initial_s=config.backoff_initial_s,
            max_s=config.backoff_max_s,
            max_total_wait_s=config.max_total_wait_s,
        )
        self.prices = PriceTable(config.prices)
        self.stats = BackendStats()
        #: Called as ``on_event(kind, **fields)`` for ``retry``, ``repair`` and
        #: ``param_rejected``, e.g. to journal them. Fields never hold prompt text or keys.
        self.on_event: Callable[..., object] | None = None
        self._rejected: dict[str, set[str]] = {}
        self._lock = threading.Lock()
        # Backoff waits end early when interrupt() bumps the generation they started in.
        self._wake = threading.Condition()
        self._generation = 0
        if self.sdk_client is not None:
            module_name, client_class = self.sdk_client
            self._sdk = importlib.import_module(module_name)
            self._client = getattr(self._sdk, client_class)(
                # SDKs insist on a key even for servers that take none.
                api_key=self._key.reveal() or "no-key-needed",
                base_url=config.base_url,
                timeout=config.timeout_s,
                max_retries=0,
            )

    def close(self) -> None:
        client = getattr(self, "_client", None)
        if client is not None:
            client.close()

    def interrupt(self) -> None:
        with self._wake:
            self._generation += 1
            self._wake.notify_all()

    def _wait_to_retry(self, delay: float, generation: int) -> bool:
        """Wait ``delay`` seconds; False when interrupted first (since ``generation``)."""
        end = time.monotonic() + delay
        with self._wake:
            while self._generation == generation:
                left = end - time.monotonic()
                if left <= 0:
                    return True
                self._wake.wait(left)
        return False

    def _send_interruptibly(self, call: ProviderCall, generation: int) -> ProviderReply:
        """:meth:`_send` in a helper thread, so that :meth:`interrupt` need not wait for an
        answer (up to ``timeout_s``): the request is then abandoned, its answer dropped when it
        comes (the provider may still bill it). Raises ``_Interrupted`` when interrupted since
        ``generation`` (before the request too: it is then not sent)."""
        outcome: list[tuple[bool, Any]] = []

        def send() -> None:
            try:
                result: tuple[bool, Any] = (True, self._send(call))
            except BaseException as exc:  # handed to the caller's thread, raised there
                result = (False, exc)
            with self._wake:
                outcome.append(result)
                self._wake.notify_all()

        with self._wake:
            if self._generation != generation:
                raise _Interrupted
        # The copied context keeps what the caller bound to its log lines.
        context = contextvars.copy_context()
        threading.Thread(
            target=context.run, args=(send,), name=f"{self.provider}-request", daemon=True
        ).start()
        with self._wake:
            while not outcome and self._generation == generation:
                self._wake.wait()
            if not outcome:
                raise _Interrupted
        ok, value = outcome[0]
        if ok:
            return value
        raise value

    # -- for subclasses

    @abc.abstractmethod
    def _send(self, call: ProviderCall) -> ProviderReply:
        """Make one exchange with the provider (no retries of its own)."""

    def _classify(self, exc: BaseException) -> Failure | None:
        """What ``exc`` (raised by :meth:`_send`) means; ``None`` for a bug (re-raised as is).

        Subclasses map their SDK's exceptions and fall back to this for the standard ones
        (time-outs, connection errors, ``urllib``'s included, and invalid JSON). With
        ``sdk_client`` set, the exceptions that the Stainless-generated SDKs (``openai``,
        ``anthropic``) share by name are mapped here; :meth:`_status_failure` reads an HTTP error.
        """
        sdk = getattr(self, "_sdk", None)
        if sdk is not None and self.sdk_client is not None:
            if isinstance(exc, sdk.APITimeoutError):
                return Failure("timeout", f"no answer within {self.config.timeout_s:g}s")
            if isinstance(exc, sdk.APIConnectionError):
                cause = exc.__cause__
                name = type(cause).__name__ if cause else ""
                return Failure("connection", f"{exc.message} ({name})")
            if isinstance(exc, sdk.APIResponseValidationError):
                return Failure("malformed", exc.message)
            if isinstance(exc, sdk.APIStatusError):
                return self._status_failure(exc)
            if isinstance(exc, ValueError) and "JSON" in str(exc):
                return Failure("malformed", f"the response is not valid JSON: {exc}")
        if isinstance(exc, TimeoutError):
            return Failure("timeout", str(exc) or "timed out")
        if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
            # The standard library's client wraps a refused connection or a connect time-out.
            if isinstance(exc.reason, TimeoutError):
                return Failure("timeout", str(exc.reason) or "timed out")
            return Failure("connection", str(exc.reason))
        if isinstance(exc, ConnectionError):
            return Failure("connection", str(exc) or type(exc).__name__)
        if isinstance(exc, json.JSONDecodeError):
            return Failure("malformed", f"the response is not valid JSON: {exc.msg}")
        return None

    def _status_failure(self, exc: Any) -> Failure:
        """What an SDK's HTTP error (``APIStatusError``) means; providers read their error body."""
        return Failure.from_status(exc.status_code, exc.message, headers=exc.response.headers)

    def _options(self, request: LLMRequest, output: StructuredOutput | None) -> dict[str, Any]:
        """Parameters of this request that a model may reject (dropped one by one if it does)."""
        temperature = (
            request.temperature if request.temperature is not None else self.config.temperature
        )
        return {} if temperature is None else {"temperature": temperature}

    @property
    def api_key(self) -> Secret:
        """The key, masked when printed; ``.reveal()`` hands it to an SDK."""
        return self._key

    def secrets(self) -> list[Secret]:
        """Values that must never be written anywhere (cassettes scrub them)."""
        return [self._key] if self._key else []

    def rejected_params(self, model: str | None = None) -> frozenset[str]:
        """Parameters ``model`` has rejected so far (they are no longer sent to it)."""
        with self._lock:
            return frozenset(self._rejected.get(model or self.model, ()))

    def __repr__(self) -> str:
        where = f", base_url={self.config.base_url!r}" if self.config.base_url else ""
        return f"{type(self).__name__}(model={self.model!r}{where})"

    __str__ = __repr__

    # -- the call

    def complete(self, request: LLMRequest) -> LLMResponse:
        """Answer ``request``; see the module docstring for what is done on the way."""
        started = time.monotonic()
        with self._wake:  # an interrupt from now on ends this call, between attempts too
            generation = self._generation
        output = None
        if request.schema is not None:
            if not (isinstance(request.schema, type) and attrs.has(request.schema)):
                raise TypeError(f"LLMRequest.schema must be an attrs class, got {request.schema!r}")
            output = StructuredOutput.for_class(
                request.schema, bounds_in_schema=self.bounds_in_schema
            )
        messages = list(request.messages)
        tokens = TokenCounts()
        usd = 0.0
        exchanges = 0
        model = self.model

        def usage() -> LLMUsage:
            return LLMUsage(
                input_tokens=tokens.input,
                output_tokens=tokens.output,
                cached_tokens=tokens.cached,
                reasoning_tokens=tokens.reasoning,
                usd=usd,
                latency_s=time.monotonic() - started,
                calls=exchanges,
            )

        rounds = 1 + (self.config.repair_rounds if output is not None else 0)
        problems: list[str] = []
        for round_ in range(rounds):
            call = ProviderCall(
                model=self.model,
                messages=messages,
                system=request.system,
                output=output,
                max_output_tokens=request.max_output_tokens or self.config.max_output_tokens,
                options=self._options(request, output),
                timeout_s=self.config.timeout_s,
                purpose=request.purpose,
            )
            try:
                reply = self._exchange(call, generation)
            except LLMError as exc:
                exc.usage = exc.usage + usage()
                raise
            exchanges += 1
            tokens = tokens + reply.tokens
            model = reply.model or model
            usd += self.prices.cost(reply.model, reply.tokens, fallback_model=self.model)
            if output is None:
                return LLMResponse(text=reply.text, model=model, usage=usage())
            try:
                if reply.refusal or reply.finish == "refusal":
                    raise SchemaViolation(
                        [f"$: the model refused: {reply.refusal or '(no reason)'}"]
                    )
                parsed = parse_structured(
                    reply.data if reply.data is not None else reply.text, output.cls
                )
            except SchemaViolation as violation:
                problems = violation.problems
                if reply.finish == "length":
                    problems = [
                        *problems,
                        "the answer was cut off at the output token limit: be more concise",
                    ]
                if round_ + 1 >= rounds:
                    break
                with self._lock:
                    self.stats.repairs += 1
                self._event("repair", round=round_ + 1, output=output.name, problems=len(problems))
                log.info(
                    "llm: answer does not fit the schema; repair round",
                    provider=self.provider,
                    model=model,
                    schema=output.name,
                    round=round_ + 1,
                    problems=problems[:5],
                )
                said = reply.text.strip() or (
                    json.dumps(reply.data) if reply.data is not None else "(no answer)"
                )
                messages += [
                    Message.assistant(said),
                    Message.user(
                        repair_prompt(problems, output, via_tool=self.structured_via_tool)
                    ),
                ]
                continue
            return LLMResponse(text=reply.text, model=model, usage=usage(), parsed=parsed)
        with self._lock:
            self.stats.schema_failures += 1
        assert output is not None
        raise LLMSchemaError(output.name, problems, rounds=rounds, model=model, usage=usage())

    def _exchange(self, call: ProviderCall, generation: int) -> ProviderReply:
        """One exchange, retried on transient failures, with rejected parameters dropped; given
        up when :meth:`interrupt` is called after ``generation`` was read."""
        retries = 0
        waited = 0.0
        wanted = dict(call.options)
        while True:
            rejected = self.rejected_params(call.model)
            options = {k: v for k, v in wanted.items() if k not in rejected}
            attempt = attrs.evolve(call, options=options)
            try:
                reply = self._send_interruptibly(attempt, generation)
            except _Interrupted:
                raise LLMUnavailableError(
                    f"{self.provider}: interrupted while waiting for the answer",
                    kind="interrupted",
                    attempts=retries + 1,
                    waited_s=waited,
                ) from None
            except Exception as exc:
                failure = self._classify(exc)
                if failure is None:
                    raise
                failure = attrs.evolve(failure, message=scrub(failure.message, self.secrets()))
            else:
                with self._lock:
                    self.stats.exchanges += 1
                return reply

            if failure.kind == "bad_request":
                param = failure.param if failure.param in options else None
                param = param or find_rejected_param(failure.message, options)
                if param is not None:
                    self._reject(call.model, param, failure.message)
                    continue
            if not failure.retryable:
                raise self._error(failure, call)
            retries += 1
            if retries > self.policy.max_retries:
                raise self._unavailable(failure, call, retries, waited, "retries exhausted")
            delay = self.policy.delay(retries, failure.retry_after)
            if waited + delay > self.policy.max_total_wait_s:
                raise self._unavailable(
                    failure, call, retries, waited, f"waiting {delay:.1f}s more would pass"
                )
            with self._lock:
                self.stats.retries += 1
                self.stats.waited_s += delay
            self._event(
                "retry",
                attempt=retries,
                failure=failure.kind,
                status=failure.status,
                wait_s=round(delay, 3),
            )
            log.warning(
                "llm: provider call failed; retrying",
                provider=self.provider,
                model=call.model,
                kind=failure.kind,
                status=failure.status,
                retry=retries,
                wait_s=round(delay, 3),
            )
            if not self._wait_to_retry(delay, generation):
                raise LLMUnavailableError(
                    f"{self.provider}: interrupted while waiting to retry ({failure.kind})",
                    kind="interrupted",
                    status=failure.status,
                    attempts=retries,
                    waited_s=waited,
                )
            waited += delay

    def _reject(self, model: str, param: str, message: str) -> None:
        with self._lock:
            self._rejected.setdefault(model, set()).add(param)
            self.stats.rejected.setdefault(model, [])
            if param not in self.stats.rejected[model]:
                self.stats.rejected[model].append(param)
        self._event("param_rejected", model=model, param=param)
        log.info(
            "llm: the model rejects a parameter; leaving it out for this model from now on",
            provider=self.provider,
            model=model,
            param=param,
            reason=message[:200],
        )

    def _event(self, event: str, **fields: Any) -> None:
        if self.on_event is None:
            return
        try:
            self.on_event(event, provider=self.provider, **{"model": self.model, **fields})
        except Exception:  # an observer must not fail the call
            log.exception("llm: on_event observer failed", llm_event=event)

    def _error(self, failure: Failure, call: ProviderCall) -> LLMError:
        status = f" ({failure.status})" if failure.status else ""
        if failure.kind == "auth":
            variable = self.config.api_key_env or "(none configured)"
            return LLMAuthError(
                f"{self.provider} refused the API key{status} for model {call.model!r}: "
                f"{failure.message}. Check the key in {variable}.",
                status=failure.status,
            )
        return LLMRequestError(
            f"{self.provider} refused the request{status} for model {call.model!r}: "
            f"{failure.message}",
            status=failure.status,
        )

    def _unavailable(
        self, failure: Failure, call: ProviderCall, attempts: int, waited: float, why: str
    ) -> LLMUnavailableError:
        cls = LLMTimeoutError if failure.kind == "timeout" else LLMUnavailableError
        status = f" {failure.status}" if failure.status else ""
        limit = (
            f"llm.max_total_wait_s = {self.policy.max_total_wait_s:g}"
            if why.startswith("waiting")
            else f"llm.max_retries = {self.policy.max_retries}"
        )
        return cls(
            f"{self.provider} ({call.model}) kept failing: {failure.kind}{status}: "
            f"{failure.message or 'no details'}; gave up after {attempts} attempts and "
            f"{waited:.1f}s of waiting ({why} {limit}).",
            kind=failure.kind,
            status=failure.status,
            attempts=attempts,
            waited_s=waited,
        )
