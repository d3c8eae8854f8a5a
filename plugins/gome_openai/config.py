"""Settings of the OpenAI backend (no SDK import here: ``gome plugins`` reads this)."""

from __future__ import annotations

from attrs import field, frozen

from gome_core.llm.backend import BackendConfig, one_of

__all__ = ["OpenAIConfig"]

_EFFORTS = (None, "none", "minimal", "low", "medium", "high", "xhigh", "max")


@frozen
class OpenAIConfig(BackendConfig):
    """OpenAI chat completions (or a server speaking them at ``base_url``).

    ``reasoning_effort`` is sent to reasoning models (and dropped, once, by a model that rejects
    it). ``structured`` says how structured output is asked for: ``json_schema`` (strict
    Structured Outputs), ``json_object`` (JSON mode plus the schema in the prompt) or ``prompt``
    (the schema in the prompt only), for servers that lack the first two. ``max_tokens_param`` is
    ``max_completion_tokens`` (OpenAI; required by reasoning models) or ``max_tokens`` (older
    compatible servers).
    """

    model: str = "gpt-5"
    api_key_env: str = "OPENAI_API_KEY"
    reasoning_effort: str | None = field(default=None, validator=one_of(*_EFFORTS))
    structured: str = field(
        default="json_schema",
        validator=one_of("json_schema", "json_object", "prompt"),
    )
    max_tokens_param: str = field(
        default="max_completion_tokens",
        validator=one_of("max_completion_tokens", "max_tokens"),
    )
