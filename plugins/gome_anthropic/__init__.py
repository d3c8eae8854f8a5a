"""The Anthropic LLM backend (``--llm anthropic:MODEL``), on the official ``anthropic`` SDK.

Messages API; structured output through a forced tool call; prompt caching of the system prompt;
extended thinking. The SDK is imported when a backend is built, never when gome loads plugins.
"""

from __future__ import annotations

from gome_anthropic.config import AnthropicConfig

__all__ = ["AnthropicBackend", "AnthropicConfig"]


def __getattr__(name: str) -> object:
    if name == "AnthropicBackend":
        from gome_anthropic.backend import AnthropicBackend

        return AnthropicBackend
    raise AttributeError(f"module 'gome_anthropic' has no attribute {name!r}")
