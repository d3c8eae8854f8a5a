"""The LLM backend conformance suite: what every LLM backend plugin must do, over real HTTP.

Subclass :class:`LLMBackendSuite` in your plugin's tests and override the ``backend`` fixture to
return your backend wired to the suite's local server (:class:`~gome_core.testing.llm_server.
LLMServer`), with the suite's settings::

    class TestMyBackend(LLMBackendSuite):
        @pytest.fixture
        def backend(self, llm_server, llm_settings):
            backend = MyBackend(MyConfig(base_url=llm_server.openai_url, **llm_settings))
            yield backend
            backend.close()

``llm_settings`` holds :class:`~gome_core.llm.BackendConfig` fields: the key's environment
variable (the suite sets it to a random key), a short time-out, two retries with short backoff, a
cap on the total wait, and one repair round. A backend with other settings must give itself the
same behaviour.

The suite scripts the server's answers and faults, then checks: plain text; structured output
parsed into an attrs class (nested classes, enums, ``Literal``, optional values, tuples, bounds);
a repair round after a schema-violating answer and a typed error when repairs run out; retries on
429 (honouring ``Retry-After``, within the total-wait cap), on 5xx, on malformed bodies and on
time-outs; no retry of a refused request or key; that ``interrupt()`` ends a wait for an answer
or for a retry at once, with ``LLMUnavailableError``; usage, cost, latency and the exact model id;
concurrent calls; and that the API key is sent only in the authentication header and never shows
in a ``repr``, ``str`` or error message.
"""

from __future__ import annotations

import enum
import logging
import secrets
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import attrs
import pytest
from attrs import frozen

from gome_core.interfaces import LLMBackend
from gome_core.llm import (
    LLMAuthError,
    LLMError,
    LLMRequestError,
    LLMSchemaError,
    LLMTimeoutError,
    LLMUnavailableError,
    PriceTable,
    TokenCounts,
    llm_field,
)
from gome_core.testing.llm_server import Fault, LLMServer, RecordedRequest, Reply, Slow
from gome_core.types import LLMRequest, LLMResponse, Message

__all__ = ["SUITE_KEY_ENV", "LLMBackendSuite", "SuiteFinding", "SuiteVerdict", "llm_server"]

#: The environment variable the suite puts its random API key in.
SUITE_KEY_ENV = "GOME_SUITE_LLM_API_KEY"


class Severity(enum.Enum):
    LOW = "low"
    HIGH = "high"


@frozen
class SuiteFinding:
    """One finding about the candidate."""

    title: str
    severity: Severity
    score: float = llm_field(ge=0, le=10, description="0 (harmless) to 10 (fatal)")


@frozen
class SuiteVerdict:
    """The suite's structured answer: a verdict with its findings."""

    verdict: Literal["accept", "reject"]
    findings: tuple[SuiteFinding, ...] = llm_field(max_items=3)
    note: str | None = None
    confidence: int = llm_field(ge=1, le=5, default=3)


VALID = {
    "verdict": "reject",
    "findings": [{"title": "target leak", "severity": "high", "score": 9.5}],
    "note": None,
    "confidence": 4,
}
EXPECTED = SuiteVerdict(
    "reject", (SuiteFinding("target leak", Severity.HIGH, 9.5),), note=None, confidence=4
)
#: Two problems: a value outside the Literal and a score above its bound.
VIOLATING = {
    "verdict": "maybe",
    "findings": [{"title": "target leak", "severity": "high", "score": 12}],
    "note": None,
    "confidence": 4,
}


@pytest.fixture
def llm_server() -> Iterator[LLMServer]:
    """A running :class:`LLMServer`, stopped after the test."""
    with LLMServer() as server:
        yield server


def _ask(text: str = "Is this candidate sound?", **kwargs: Any) -> LLMRequest:
    return LLMRequest((Message.user(text),), **kwargs)


class LLMBackendSuite:
    """Checks an LLM backend against the local wire server (see the module docstring).

    Override :meth:`backend`. Class attributes tune the suite.
    """

    #: The backend's time-out (seconds); slow answers take three times as long.
    timeout_s: float = 0.5
    #: A model id in gome's price table, reported by the server in a dated snapshot form.
    priced_model: str = "gpt-5"

    # -- fixtures

    @pytest.fixture
    def llm_server(self) -> Iterator[LLMServer]:
        with LLMServer() as server:
            yield server

    @pytest.fixture
    def api_key(self, monkeypatch: pytest.MonkeyPatch) -> str:
        """A random key, put in :data:`SUITE_KEY_ENV` for the backend to read."""
        key = f"sk-suite-{secrets.token_hex(16)}"
        monkeypatch.setenv(SUITE_KEY_ENV, key)
        return key

    @pytest.fixture
    def llm_settings(self, api_key: str) -> dict[str, Any]:
        """Settings for the backend under test (:class:`~gome_core.llm.BackendConfig` fields)."""
        return {
            "api_key_env": SUITE_KEY_ENV,
            "timeout_s": self.timeout_s,
            "max_retries": 2,
            "backoff_initial_s": 0.01,
            "backoff_max_s": 0.05,
            "max_total_wait_s": 5.0,
            "repair_rounds": 1,
        }

    @pytest.fixture
    def backend(self, llm_server: LLMServer, llm_settings: dict[str, Any]) -> LLMBackend:
        """The backend under test, wired to ``llm_server`` (abstract: override it)."""
        raise NotImplementedError(
            "override the `backend` fixture to return your backend wired to llm_server"
        )

    # -- helpers

    @staticmethod
    def prompt_of(request: RecordedRequest) -> str:
        """Everything a request told the model, as text."""
        return "\n".join([request.system or "", *(text for _, text in request.messages)])

    # -- plain text

    def test_plain_text(self, backend: LLMBackend, llm_server: LLMServer) -> None:
        llm_server.reply("A plain answer.", model="suite-model-2026-01-01")
        response = backend.complete(
            _ask("What is 2 + 2?", system="You are terse.", purpose="suite")
        )
        assert isinstance(response, LLMResponse)
        assert response.text == "A plain answer."
        assert response.parsed is None
        assert response.model == "suite-model-2026-01-01", "report the exact model id answered"
        [request] = llm_server.requests
        assert request.system is not None and "You are terse." in request.system
        assert request.messages[-1] == ("user", "What is 2 + 2?")

    def test_conversation_keeps_its_turns(self, backend: LLMBackend, llm_server: LLMServer) -> None:
        llm_server.reply("Four.")
        backend.complete(
            LLMRequest(
                (Message.user("Hi."), Message.assistant("Hello."), Message.user("2 + 2?")),
                system="Be brief.",
            )
        )
        [request] = llm_server.requests
        assert request.messages == [("user", "Hi."), ("assistant", "Hello."), ("user", "2 + 2?")]

    # -- structured output

    def test_structured_output_is_parsed(self, backend: LLMBackend, llm_server: LLMServer) -> None:
        llm_server.reply(data=VALID)
        response = backend.complete(_ask(schema=SuiteVerdict, purpose="judge"))
        assert response.parsed == EXPECTED
        assert isinstance(response.parsed.findings[0].severity, Severity)
        [request] = llm_server.requests
        schema = request.schema
        if schema is not None:  # the schema travelled in the provider's own mechanism
            assert set(schema["properties"]) == {"verdict", "findings", "note", "confidence"}
            assert schema.get("additionalProperties") is False
            assert sorted(schema["required"]) == sorted(schema["properties"])
        else:  # or in the prompt, for servers without structured output
            assert "confidence" in self.prompt_of(request), "the request never showed the schema"

    def test_a_schema_violation_gets_a_repair_round(
        self, backend: LLMBackend, llm_server: LLMServer
    ) -> None:
        llm_server.reply(data=VIOLATING).reply(data=VALID)
        response = backend.complete(_ask(schema=SuiteVerdict))
        assert response.parsed == EXPECTED
        first, second = llm_server.requests
        assert len(second.messages) > len(first.messages), "the repair round kept no history"
        follow_up = second.messages[-1][1]
        assert "$.verdict" in follow_up, "the repair message must show the validation problem"
        assert response.usage.input_tokens > 0

    def test_repairs_run_out_with_a_typed_error(
        self, backend: LLMBackend, llm_server: LLMServer
    ) -> None:
        llm_server.handler = lambda request: Reply(data=VIOLATING)
        with pytest.raises(LLMSchemaError) as caught:
            backend.complete(_ask(schema=SuiteVerdict))
        assert isinstance(caught.value, LLMError)
        assert any("$.verdict" in p for p in caught.value.problems)
        assert len(llm_server.requests) == 2, "one answer plus exactly one repair round"
        assert caught.value.usage.input_tokens > 0, "tokens spent on a failed call still count"

    # -- resilience

    def test_a_rate_limit_is_retried_after_retry_after(
        self, backend: LLMBackend, llm_server: LLMServer
    ) -> None:
        llm_server.fail(429, "slow down", retry_after=0.3).reply("after the wait")
        started = time.monotonic()
        response = backend.complete(_ask())
        assert response.text == "after the wait"
        assert time.monotonic() - started >= 0.3, "Retry-After was not honoured"
        assert len(llm_server.requests) == 2

    def test_a_long_retry_after_is_not_waited_out(
        self, backend: LLMBackend, llm_server: LLMServer
    ) -> None:
        llm_server.fail(429, "come back in an hour", retry_after=3600)
        started = time.monotonic()
        with pytest.raises(LLMUnavailableError) as caught:
            backend.complete(_ask())
        assert time.monotonic() - started < 3, "waited past the total-wait cap"
        assert caught.value.status == 429

    def test_server_errors_are_retried(self, backend: LLMBackend, llm_server: LLMServer) -> None:
        llm_server.fail(500).fail(503).reply("third time lucky")
        assert backend.complete(_ask()).text == "third time lucky"
        assert len(llm_server.requests) == 3

    def test_retries_run_out_with_a_typed_error(
        self, backend: LLMBackend, llm_server: LLMServer
    ) -> None:
        llm_server.handler = lambda request: Fault(500)
        with pytest.raises(LLMUnavailableError) as caught:
            backend.complete(_ask())
        assert caught.value.status == 500
        assert len(llm_server.requests) == 3, "max_retries = 2: three attempts in all"

    def test_a_malformed_body_is_retried(self, backend: LLMBackend, llm_server: LLMServer) -> None:
        llm_server.malformed().reply("well formed")
        assert backend.complete(_ask()).text == "well formed"
        assert len(llm_server.requests) == 2

    def test_a_time_out_is_retried(self, backend: LLMBackend, llm_server: LLMServer) -> None:
        llm_server.slow(self.timeout_s * 3, Reply("too late")).reply("in time")
        started = time.monotonic()
        assert backend.complete(_ask()).text == "in time"
        elapsed = time.monotonic() - started
        assert self.timeout_s <= elapsed < self.timeout_s * 3, "the time-out was not applied"

    def test_time_outs_run_out_with_a_typed_error(
        self, backend: LLMBackend, llm_server: LLMServer
    ) -> None:
        llm_server.handler = lambda request: Slow(self.timeout_s * 3, Reply("too late"))
        with pytest.raises(LLMTimeoutError):
            backend.complete(_ask())
        assert len(llm_server.requests) == 3

    def test_a_refused_request_is_not_retried(
        self, backend: LLMBackend, llm_server: LLMServer
    ) -> None:
        llm_server.fail(404, "model 'nope' does not exist")
        with pytest.raises(LLMRequestError) as caught:
            backend.complete(_ask())
        assert "does not exist" in str(caught.value)
        assert len(llm_server.requests) == 1

    # -- interruption (Ctrl-C: the engine calls backend.interrupt() from another thread)

    @pytest.mark.parametrize("waiting_for", ["the answer", "a retry"])
    def test_interrupt_ends_a_wait_at_once(
        self, backend: LLMBackend, llm_server: LLMServer, waiting_for: str
    ) -> None:
        if waiting_for == "the answer":  # far past the time-out, which would end it otherwise
            llm_server.slow(60, Reply("too late"))
        else:  # a rate limit asking for a wait within the total-wait cap
            llm_server.fail(429, "slow down", retry_after=3)
        outcome: list[object] = []

        def call() -> None:
            try:
                outcome.append(backend.complete(_ask()))
            except Exception as exc:
                outcome.append(exc)

        caller = threading.Thread(target=call, daemon=True)
        caller.start()
        while not llm_server.requests and caller.is_alive():
            time.sleep(0.005)
        time.sleep(0.2 if waiting_for == "a retry" else self.timeout_s / 10)  # now waiting
        interrupted = time.monotonic()
        backend.interrupt()
        caller.join(timeout=10)  # a hang guard: the waits are longer
        assert not caller.is_alive(), f"interrupt() did not end the wait for {waiting_for}"
        assert time.monotonic() - interrupted < self.timeout_s / 2, (
            f"the wait for {waiting_for} went on after interrupt()"
        )
        [error] = outcome
        assert isinstance(error, LLMUnavailableError), f"expected LLMUnavailableError: {error!r}"
        assert len(llm_server.requests) == 1, "the interrupted call was sent again"
        # Later calls are not affected.
        llm_server.reply("after the interruption")
        assert backend.complete(_ask()).text == "after the interruption"

    # -- accounting

    def test_usage_cost_latency_and_model(self, backend: LLMBackend, llm_server: LLMServer) -> None:
        snapshot = f"{self.priced_model}-2025-08-07"
        llm_server.reply(
            "Counted.",
            model=snapshot,
            input_tokens=1000,
            output_tokens=200,
            cached_tokens=400,
            reasoning_tokens=50,
        )
        response = backend.complete(_ask())
        usage = response.usage
        assert response.model == snapshot
        assert (usage.input_tokens, usage.output_tokens) == (1000, 200)
        assert usage.cached_tokens == 400 and usage.reasoning_tokens == 50
        assert usage.latency_s > 0 and usage.calls >= 1
        expected = PriceTable().cost(snapshot, TokenCounts(1000, 200, 400, 0, 50))
        assert expected > 0 and usage.usd == pytest.approx(expected)

    # -- threads

    def test_concurrent_calls(self, backend: LLMBackend, llm_server: LLMServer) -> None:
        llm_server.handler = lambda request: Slow(
            0.05, Reply(text=f"echo: {request.last_user_text}")
        )
        questions = [f"question {i}" for i in range(8)]
        barrier = threading.Barrier(len(questions))

        def ask(question: str) -> str:
            barrier.wait(timeout=5)
            return backend.complete(_ask(question)).text

        with ThreadPoolExecutor(len(questions)) as pool:
            answers = list(pool.map(ask, questions))
        assert answers == [f"echo: {q}" for q in questions]
        assert len(llm_server.requests) == len(questions)

    # -- keys

    def test_the_key_travels_only_in_the_auth_header(
        self, backend: LLMBackend, llm_server: LLMServer, api_key: str
    ) -> None:
        llm_server.reply("ok")
        backend.complete(_ask())
        [request] = llm_server.requests
        carriers = [k for k, v in request.headers.items() if api_key in v]
        assert carriers and set(carriers) <= {"authorization", "x-api-key", "api-key"}, carriers
        assert api_key not in request.raw.decode("utf-8", "replace")
        assert api_key not in request.path

    def test_the_key_never_shows(
        self,
        backend: LLMBackend,
        llm_server: LLMServer,
        api_key: str,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        caplog.set_level(logging.DEBUG)
        for text in (repr(backend), str(backend)):
            assert api_key not in text
        config = getattr(backend, "config", None)
        if config is not None:
            assert api_key not in repr(config) and api_key not in str(config)
            if attrs.has(type(config)):
                assert api_key not in repr(attrs.asdict(config, recurse=True))
        llm_server.fail(401, f"Incorrect API key provided: {api_key}.")
        with pytest.raises(LLMAuthError) as caught:
            backend.complete(_ask())
        assert api_key not in str(caught.value), "a provider's error message echoed the key"
        assert len(llm_server.requests) == 1, "a refused key must not be retried"
        llm_server.fail(429, retry_after=0.01).reply("logged")
        backend.complete(_ask())
        assert api_key not in caplog.text, "the key was logged"
