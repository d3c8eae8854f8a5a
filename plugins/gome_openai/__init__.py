"""The OpenAI LLM backend (``--llm openai:MODEL``), on the official ``openai`` SDK.

It speaks the chat-completions API, which OpenAI-compatible servers (vLLM, Ollama, llama.cpp,
DeepSeek, Azure OpenAI's v1 endpoint) speak too: point ``base_url`` at them. The SDK is imported
when a backend is built, never when gome loads its plugins.
"""

from __future__ import annotations

from gome_openai.config import OpenAIConfig

__all__ = ["OpenAIBackend", "OpenAIConfig"]


def __getattr__(name: str) -> object:
    if name == "OpenAIBackend":
        from gome_openai.backend import OpenAIBackend

        return OpenAIBackend
    raise AttributeError(f"module 'gome_openai' has no attribute {name!r}")
