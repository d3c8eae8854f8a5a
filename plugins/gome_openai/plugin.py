"""Registers the ``openai`` LLM backend (``--llm openai:MODEL``)."""

from __future__ import annotations

from gome_core.hookspecs import RegisterComponent, hookimpl


@hookimpl
def register_llm_backends(register: RegisterComponent) -> None:
    from gome_openai.backend import OpenAIBackend
    from gome_openai.config import OpenAIConfig

    register(
        OpenAIBackend,
        name="openai",
        config=OpenAIConfig,
        description="OpenAI chat completions (official SDK); base_url for compatible servers.",
    )
