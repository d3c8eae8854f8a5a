"""Registers the ``anthropic`` LLM backend (``--llm anthropic:MODEL``)."""

from __future__ import annotations

from gome_core.hookspecs import RegisterComponent, hookimpl


@hookimpl
def register_llm_backends(register: RegisterComponent) -> None:
    from gome_anthropic.backend import AnthropicBackend
    from gome_anthropic.config import AnthropicConfig

    register(
        AnthropicBackend,
        name="anthropic",
        config=AnthropicConfig,
        description="Anthropic Messages API (official SDK): tool-use output, prompt caching.",
    )
