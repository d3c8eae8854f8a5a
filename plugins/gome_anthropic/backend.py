"""The Anthropic backend: one Messages API exchange per :meth:`AnthropicBackend._send`.

Structured output is a tool whose ``input_schema`` is the answer's schema, and the model is made
to call it with a forced ``tool_choice``. With thinking on, the API allows only ``auto`` tool
choice: the backend then asks for the tool call in the system prompt, accepts a JSON answer in
text too, and lets a repair round insist when the model answers otherwise.

The system prompt (the long, stable task block) carries ``cache_control``, so that the tools and
system prefix are read from the prompt cache on later calls; cache reads and writes are counted
and priced apart. Retries, repairs, dropped parameters and costs are done by
:class:`gome_core.llm.ProviderBackend`; the SDK's own retries are off.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from gome_anthropic.config import AnthropicConfig
from gome_core.llm import (
    Failure,
    ProviderBackend,
    ProviderCall,
    ProviderReply,
    StructuredOutput,
    TokenCounts,
)
from gome_core.types import LLMRequest

__all__ = ["AnthropicBackend"]

#: Sent as the key to servers that need none (otherwise the SDK goes looking for credentials).


class AnthropicBackend(ProviderBackend):
    """Anthropic Messages API: structured output through a forced tool call."""

    provider = "anthropic"
    sdk_client = ("anthropic", "Anthropic")
    # Anthropic's strict tool schemas reject numeric and length bounds: they go into the
    # descriptions, and the answer's parser enforces them.
    bounds_in_schema = False
    structured_via_tool = True

    def __init__(
        self, config: AnthropicConfig | None = None, *, environ: Mapping[str, str] | None = None
    ) -> None:
        config = config or AnthropicConfig()
        super().__init__(config, environ=environ)
        self.config: AnthropicConfig = config

    @property
    def thinking(self) -> bool:
        return self.config.thinking != "off"

    def _options(self, request: LLMRequest, output: StructuredOutput | None) -> dict[str, Any]:
        options = super()._options(request, output)
        if self.thinking:
            options.pop("temperature", None)  # the API allows no temperature with thinking
            if self.config.thinking == "adaptive":
                options["thinking"] = {"type": "adaptive"}
            else:
                options["thinking"] = {
                    "type": "enabled",
                    "budget_tokens": self.config.thinking_budget,
                }
        if self.config.effort is not None:
            options["effort"] = self.config.effort
        if output is not None and self.config.strict_tools:
            options["strict"] = True
        return options

    def _send(self, call: ProviderCall) -> ProviderReply:
        options = dict(call.options)
        cache = (
            {"type": "ephemeral", "ttl": self.config.cache_ttl}
            if self.config.prompt_caching
            else None
        )
        system: list[dict[str, Any]] = []
        if call.system:
            system.append(_text_block(call.system, cache))
        messages: list[dict[str, Any]] = [
            {"role": m.role, "content": m.content} for m in call.messages
        ]
        if not system and cache and messages and messages[0]["role"] == "user":
            messages[0] = {"role": "user", "content": [_text_block(messages[0]["content"], cache)]}

        kwargs: dict[str, Any] = {}
        thinking = options.pop("thinking", None)
        max_tokens = call.max_output_tokens or 16_000
        if thinking is not None:
            kwargs["thinking"] = thinking
            max_tokens += thinking.get("budget_tokens", 0)
        if call.output is not None:
            tool: dict[str, Any] = {
                "name": call.output.name,
                "description": call.output.description,
                "input_schema": dict(call.output.schema),
            }
            if options.pop("strict", False):
                tool["strict"] = True
            kwargs["tools"] = [tool]
            if thinking is None:
                kwargs["tool_choice"] = {"type": "tool", "name": call.output.name}
            else:
                # Forced tool choice is refused with thinking on: ask for the call instead.
                kwargs["tool_choice"] = {"type": "auto"}
                system.append(
                    _text_block(
                        f"Give your answer by calling the tool `{call.output.name}` exactly "
                        f"once, with the complete answer as its input.",
                        None,
                    )
                )
        effort = options.pop("effort", None)
        if effort is not None:
            kwargs["output_config"] = {"effort": effort}
        if system:
            kwargs["system"] = system
        extra_body = {k: v for k, v in options.items()}  # e.g. temperature: not an SDK argument
        message = self._client.messages.create(
            model=call.model,
            max_tokens=max_tokens,
            messages=messages,
            timeout=call.timeout_s,
            extra_body=extra_body or None,
            **kwargs,
        )
        texts: list[str] = []
        data: Any = None
        for block in message.content:
            kind = getattr(block, "type", "")
            if kind == "text":
                texts.append(block.text)
            elif kind == "tool_use" and call.output is not None and data is None:
                if block.name == call.output.name:
                    data = block.input
        usage = message.usage
        read = usage.cache_read_input_tokens or 0
        written = usage.cache_creation_input_tokens or 0
        by_ttl = getattr(usage, "cache_creation", None)
        if by_ttl is not None:
            long = getattr(by_ttl, "ephemeral_1h_input_tokens", 0) or 0
        else:  # no breakdown: the writes went where the request asked
            long = written if self.config.cache_ttl == "1h" else 0
        details = getattr(usage, "output_tokens_details", None)
        tokens = TokenCounts(
            # Anthropic's input_tokens leaves out cache reads and writes: add them back.
            input=(usage.input_tokens or 0) + read + written,
            output=usage.output_tokens or 0,
            cached=read,
            cache_write=written,
            cache_write_long=long,
            reasoning=(getattr(details, "thinking_tokens", 0) or 0) if details else 0,
        )
        stop = str(message.stop_reason or "")
        finish = {"max_tokens": "length", "refusal": "refusal"}.get(stop, "stop")
        text = "\n".join(texts)
        return ProviderReply(
            text=json.dumps(data) if data is not None else text,
            model=message.model or call.model,
            data=data,
            tokens=tokens,
            finish=finish,
            refusal=text if finish == "refusal" else "",
        )

    def _status_failure(self, exc: Any) -> Failure:
        message = exc.api_message or _body_message(exc.body) or exc.message
        return Failure.from_status(exc.status_code, message, headers=exc.response.headers)


def _text_block(text: str, cache: Mapping[str, Any] | None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "text", "text": text}
    if cache is not None:
        block["cache_control"] = dict(cache)
    return block


def _body_message(body: object) -> str:
    if isinstance(body, Mapping):
        error = body.get("error")
        if isinstance(error, Mapping) and isinstance(error.get("message"), str):
            return error["message"]
    if isinstance(body, str):
        return body.strip()[:500]
    return ""
