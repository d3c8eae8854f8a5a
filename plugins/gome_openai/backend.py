"""The OpenAI backend: one chat-completions exchange per :meth:`OpenAIBackend._send`.

Why chat completions and not the Responses API: chat completions is the protocol every
OpenAI-compatible server implements (vLLM, Ollama, llama.cpp, DeepSeek, Azure's v1 endpoint), and
it offers everything gome needs from OpenAI's own models — strict JSON-schema output, reasoning
effort, cached-token and reasoning-token usage. One code path serves all of them.

Retries, repair rounds, dropped parameters and costs are done by
:class:`gome_core.llm.ProviderBackend`; the SDK's own retries are off (``max_retries=0``) so that
each attempt is ours, counted and logged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gome_core.llm import (
    Failure,
    ProviderBackend,
    ProviderCall,
    ProviderReply,
    StructuredOutput,
    TokenCounts,
    schema_instructions,
)
from gome_core.types import LLMRequest
from gome_openai.config import OpenAIConfig

__all__ = ["OpenAIBackend"]

#: Sent as the key to servers that need none (the SDK refuses an empty key).


class _NoAnswer(Exception):
    """A 200 response without a choice: the server answered nothing usable."""


class OpenAIBackend(ProviderBackend):
    """OpenAI chat completions: structured output through strict JSON schemas."""

    provider = "openai"
    sdk_client = ("openai", "OpenAI")
    bounds_in_schema = True

    def __init__(
        self, config: OpenAIConfig | None = None, *, environ: Mapping[str, str] | None = None
    ) -> None:
        config = config or OpenAIConfig()
        super().__init__(config, environ=environ)
        self.config: OpenAIConfig = config

    def _options(self, request: LLMRequest, output: StructuredOutput | None) -> dict[str, Any]:
        options = super()._options(request, output)
        limit = request.max_output_tokens or self.config.max_output_tokens
        if limit:
            options[self.config.max_tokens_param] = limit
        if self.config.reasoning_effort is not None:
            options["reasoning_effort"] = self.config.reasoning_effort
        if output is not None and self.config.structured == "json_schema":
            options["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": output.name,
                    "description": output.description,
                    "schema": dict(output.schema),
                    "strict": True,
                },
            }
        elif output is not None and self.config.structured == "json_object":
            options["response_format"] = {"type": "json_object"}
        return options

    def _send(self, call: ProviderCall) -> ProviderReply:
        system = call.system
        fmt = call.options.get("response_format")
        if call.output is not None and (fmt is None or fmt.get("type") != "json_schema"):
            # No schema on the wire (prompt mode, JSON mode, or a server that rejected it).
            instructions = schema_instructions(call.output)
            system = f"{system}\n\n{instructions}" if system else instructions
        messages: list[dict[str, Any]] = []
        if system:
            messages.append({"role": "system", "content": system})
        messages += [{"role": m.role, "content": m.content} for m in call.messages]
        completion = self._client.chat.completions.create(
            model=call.model, messages=messages, timeout=call.timeout_s, **call.options
        )
        if not completion.choices:
            raise _NoAnswer("the response holds no choice")
        choice = completion.choices[0]
        message = choice.message
        usage = completion.usage
        tokens = TokenCounts()
        if usage is not None:
            prompt_details = usage.prompt_tokens_details
            output_details = usage.completion_tokens_details
            tokens = TokenCounts(
                input=usage.prompt_tokens or 0,
                output=usage.completion_tokens or 0,
                cached=(prompt_details.cached_tokens or 0) if prompt_details else 0,
                reasoning=(output_details.reasoning_tokens or 0) if output_details else 0,
            )
        finish = {"length": "length", "content_filter": "refusal"}.get(
            str(choice.finish_reason), "stop"
        )
        return ProviderReply(
            text=message.content or "",
            model=completion.model or call.model,
            tokens=tokens,
            finish=finish,
            refusal=message.refusal or "",
        )

    def _classify(self, exc: BaseException) -> Failure | None:
        if isinstance(exc, _NoAnswer):
            return Failure("malformed", str(exc))
        return super()._classify(exc)

    def _status_failure(self, exc: Any) -> Failure:
        return Failure.from_status(
            exc.status_code,
            _error_message(exc.body, exc.message),
            headers=exc.response.headers,
            param=exc.param,
        )


def _error_message(body: object, fallback: str) -> str:
    if isinstance(body, Mapping):
        error = body.get("error", body)
        if isinstance(error, Mapping) and isinstance(error.get("message"), str):
            return error["message"]
    if isinstance(body, str) and body.strip():
        return body.strip()[:500]
    return fallback
