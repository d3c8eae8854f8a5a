"""An LLM backend for OpenAI-compatible chat servers, on the standard library alone.

Everything but the HTTP exchange comes from :class:`gome_core.llm.ProviderBackend`: structured
output and its repair rounds, retries with backoff that honours ``Retry-After``, rejected
parameters dropped per model, prices, and the API key kept out of sight.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from attrs import frozen

import gome_core
from gome_core.llm import (
    BackendConfig,
    Failure,
    ProviderBackend,
    ProviderCall,
    ProviderReply,
    StructuredOutput,
    TokenCounts,
)
from gome_core.types import LLMRequest

__all__ = ["HTTPChatBackend", "HTTPChatConfig"]


@frozen
class HTTPChatConfig(BackendConfig):
    """Settings: the shared ones (model, key variable, time-out, retries...) plus defaults."""

    model: str = "local-model"
    api_key_env: str = "HTTP_LLM_API_KEY"
    base_url: str | None = "http://127.0.0.1:8000/v1"


class _HTTPError(Exception):
    def __init__(self, status: int, body: bytes, headers: Any) -> None:
        super().__init__(f"HTTP {status}")
        self.status, self.body, self.headers = status, body, headers


class HTTPChatBackend(ProviderBackend):
    """Chat completions over plain HTTP, for any OpenAI-compatible server."""

    provider = "http-chat"

    def __init__(self, config: HTTPChatConfig | None = None) -> None:
        super().__init__(config or HTTPChatConfig())  # reads the key; raises if it is missing

    def _options(self, request: LLMRequest, output: StructuredOutput | None) -> dict[str, Any]:
        options = super()._options(request, output)  # temperature, when set
        if output is not None:
            options["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": output.name, "schema": dict(output.schema), "strict": True},
            }
        return options

    def _send(self, call: ProviderCall) -> ProviderReply:
        messages = [{"role": "system", "content": call.system}] if call.system else []
        messages += [{"role": m.role, "content": m.content} for m in call.messages]
        body: dict[str, Any] = {"model": call.model, "messages": messages, **call.options}
        if call.max_output_tokens:
            body["max_tokens"] = call.max_output_tokens
        headers = {"content-type": "application/json"}
        if self.api_key:
            headers["authorization"] = f"Bearer {self.api_key.reveal()}"
        url = f"{(self.config.base_url or '').rstrip('/')}/chat/completions"
        request = urllib.request.Request(url, json.dumps(body).encode(), headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=call.timeout_s) as response:
                payload = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise _HTTPError(exc.code, exc.read(), exc.headers) from None
        choice = payload["choices"][0]
        usage = payload.get("usage") or {}
        return ProviderReply(
            text=choice["message"].get("content") or "",
            model=payload.get("model") or call.model,
            tokens=TokenCounts(
                input=usage.get("prompt_tokens", 0),
                output=usage.get("completion_tokens", 0),
                cached=(usage.get("prompt_tokens_details") or {}).get("cached_tokens", 0),
                reasoning=(usage.get("completion_tokens_details") or {}).get("reasoning_tokens", 0),
            ),
            finish="length" if choice.get("finish_reason") == "length" else "stop",
            refusal=choice["message"].get("refusal") or "",
        )

    def _classify(self, exc: BaseException) -> Failure | None:
        if isinstance(exc, _HTTPError):
            try:
                message = json.loads(exc.body)["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = exc.body.decode("utf-8", "replace")[:300]
            return Failure.from_status(exc.status, message, headers=exc.headers)
        if isinstance(exc, urllib.error.URLError):
            if isinstance(exc.reason, TimeoutError):
                return Failure("timeout", str(exc.reason))
            return Failure("connection", str(exc.reason))
        if isinstance(exc, (KeyError, IndexError, TypeError)):
            return Failure("malformed", f"unexpected response shape: {exc!r}")
        return super()._classify(exc)  # time-outs, connection errors, invalid JSON


@gome_core.hookimpl
def register_llm_backends(register):
    register(HTTPChatBackend, name="http-chat", config=HTTPChatConfig)
