"""Errors of LLM calls.

Every error here fails the *step* that made the call, never the run: the engine records it on the
node and goes on. Each carries the :class:`~gome_core.types.LLMUsage` spent before it was raised
(``error.usage``), so that tokens and money paid for a failed call still count against the budget.
"""

from __future__ import annotations

from collections.abc import Sequence

from gome_core.errors import GomeError, UsageError
from gome_core.types import LLMUsage

__all__ = [
    "LLMAuthError",
    "LLMError",
    "LLMRequestError",
    "LLMSchemaError",
    "LLMTimeoutError",
    "LLMUnavailableError",
    "MissingAPIKeyError",
    "ReplayMissError",
]


class LLMError(GomeError):
    """An LLM call failed; the step that made it fails, the run goes on."""

    def __init__(self, message: str, *, usage: LLMUsage | None = None) -> None:
        super().__init__(message)
        self.usage = usage or LLMUsage()


class LLMSchemaError(LLMError):
    """The answer did not fit the requested schema, also after the repair rounds.

    ``problems`` lists the last validation problems (``"$.score: expected a number"``);
    ``rounds`` is the number of answers that were tried.
    """

    def __init__(
        self,
        schema: str,
        problems: Sequence[str],
        *,
        rounds: int,
        model: str = "",
        usage: LLMUsage | None = None,
    ) -> None:
        self.schema, self.problems, self.rounds, self.model = schema, list(problems), rounds, model
        listed = "\n  ".join(self.problems[:10]) or "(no details)"
        by = f" from {model}" if model else ""
        super().__init__(
            f"the answer{by} does not fit the schema {schema} after {rounds} "
            f"attempt{'s' if rounds != 1 else ''} (repair rounds: llm.repair_rounds):\n  {listed}",
            usage=usage,
        )


class LLMUnavailableError(LLMError):
    """The provider kept failing (rate limits, server errors, time-outs) until the retries or the
    total wait allowed by the configuration ran out."""

    def __init__(
        self,
        message: str,
        *,
        kind: str = "",
        status: int | None = None,
        attempts: int = 0,
        waited_s: float = 0.0,
        usage: LLMUsage | None = None,
    ) -> None:
        self.kind, self.status, self.attempts, self.waited_s = kind, status, attempts, waited_s
        super().__init__(message, usage=usage)


class LLMTimeoutError(LLMUnavailableError):
    """The provider did not answer within ``timeout_s``, on every attempt."""


class LLMRequestError(LLMError):
    """The provider refused the request itself (a 4xx other than a rate limit); retrying the same
    request cannot help."""

    def __init__(
        self, message: str, *, status: int | None = None, usage: LLMUsage | None = None
    ) -> None:
        self.status = status
        super().__init__(message, usage=usage)


class LLMAuthError(LLMRequestError):
    """The provider refused the API key (401/403)."""


class ReplayMissError(LLMError):
    """A replayed run asked a question that the cassette does not hold."""

    def __init__(self, fingerprint: str, cassette: str, purpose: str = "") -> None:
        self.fingerprint, self.cassette = fingerprint, cassette
        what = f" ({purpose})" if purpose else ""
        super().__init__(
            f"replay: no recorded answer for request {fingerprint}{what} in cassette {cassette}. "
            f"The prompts changed since the cassette was recorded: record it again with "
            f'llm.mode = "record" and an inner backend (llm.inner).'
        )


class MissingAPIKeyError(UsageError):
    """A backend needs an API key and the environment variable that should hold it is unset."""

    def __init__(self, provider: str, variable: str, *, local_hint: bool = False) -> None:
        self.provider, self.variable = provider, variable
        hint = ' A local server that needs no key: set llm.api_key_env = "".' if local_hint else ""
        super().__init__(
            f"the {provider} LLM backend needs an API key: set the environment variable "
            f"{variable} (export {variable}=...), or name another variable with "
            f"llm.api_key_env.{hint}"
        )
