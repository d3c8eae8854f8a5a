"""Settings of the Anthropic backend (no SDK import here: ``gome plugins`` reads this)."""

from __future__ import annotations

import attrs
from attrs import field, frozen

from gome_core.llm.backend import BackendConfig, one_of

__all__ = ["AnthropicConfig"]


@frozen
class AnthropicConfig(BackendConfig):
    """Anthropic Messages API (or a server speaking it at ``base_url``).

    ``max_output_tokens`` is required by the API (the answer's room; a thinking budget is added
    on top). ``thinking`` is ``off``, ``enabled`` (with ``thinking_budget`` tokens, at least
    1024) or ``adaptive`` (the model decides). ``effort`` sets ``output_config.effort`` on models
    that support it. ``prompt_caching`` marks the system prompt (the long, stable task block) for
    the prompt cache, with ``cache_ttl`` ``5m`` or ``1h``. ``strict_tools`` asks the API to hold
    the structured answer to its schema.
    """

    model: str = "claude-sonnet-4-6"
    api_key_env: str = "ANTHROPIC_API_KEY"
    max_output_tokens: int | None = 16_000
    thinking: str = field(default="off", validator=one_of("off", "enabled", "adaptive"))
    thinking_budget: int = field(default=8_000, validator=attrs.validators.ge(1024))
    effort: str | None = field(
        default=None,
        validator=one_of(None, "low", "medium", "high", "xhigh", "max"),
    )
    prompt_caching: bool = True
    cache_ttl: str = field(default="5m", validator=one_of("5m", "1h"))
    strict_tools: bool = True
