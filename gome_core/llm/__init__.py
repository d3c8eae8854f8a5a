"""Shared LLM machinery, free of any vendor SDK.

Provider plugins (``gome_openai``, ``gome_anthropic``, yours) subclass :class:`ProviderBackend`
and get structured output, repair rounds, retries, prices, key handling and accounting from here;
prompt builders use :func:`fit_sections` to fit the context window. The replay backend
(:mod:`gome_core.llm.replay`) records and replays any backend's exchanges.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from gome_core.llm.backend import (
    BackendConfig,
    BackendStats,
    ProviderBackend,
    ProviderCall,
    ProviderReply,
    one_of,
)
from gome_core.llm.context import (
    Dropped,
    Fitted,
    Section,
    context_window,
    estimate_tokens,
    fit_messages,
    fit_sections,
    prompt_budget,
)
from gome_core.llm.errors import (
    LLMAuthError,
    LLMError,
    LLMRequestError,
    LLMSchemaError,
    LLMTimeoutError,
    LLMUnavailableError,
    MissingAPIKeyError,
    ReplayMissError,
)
from gome_core.llm.keys import Secret, resolve_api_key, scrub
from gome_core.llm.pricing import DEFAULT_PRICES, ModelPrice, PriceTable, TokenCounts
from gome_core.llm.retry import Failure, RetryPolicy, find_rejected_param, parse_retry_after
from gome_core.llm.schema import (
    SchemaViolation,
    StructuredOutput,
    extract_json,
    json_schema,
    llm_field,
    parse_structured,
    repair_prompt,
    schema_instructions,
    schema_name,
)

#: Loaded on first access (the replay backend pulls in the configuration machinery).
_LAZY = {
    "ReplayBackend": "gome_core.llm.replay",
    "ReplayConfig": "gome_core.llm.replay",
    "fingerprint": "gome_core.llm.replay",
    "register_replay_backend": "gome_core.llm.replay",
}

__all__ = [
    "DEFAULT_PRICES",
    "BackendConfig",
    "BackendStats",
    "Dropped",
    "Failure",
    "Fitted",
    "LLMAuthError",
    "LLMError",
    "LLMRequestError",
    "LLMSchemaError",
    "LLMTimeoutError",
    "LLMUnavailableError",
    "MissingAPIKeyError",
    "ModelPrice",
    "PriceTable",
    "ProviderBackend",
    "ProviderCall",
    "ProviderReply",
    "ReplayMissError",
    "RetryPolicy",
    "SchemaViolation",
    "Secret",
    "Section",
    "StructuredOutput",
    "TokenCounts",
    "context_window",
    "estimate_tokens",
    "extract_json",
    "find_rejected_param",
    "fit_messages",
    "fit_sections",
    "json_schema",
    "llm_field",
    "one_of",
    "parse_retry_after",
    "parse_structured",
    "prompt_budget",
    "repair_prompt",
    "resolve_api_key",
    "schema_instructions",
    "schema_name",
    "scrub",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'gome_core.llm' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:  # pragma: no cover
    from gome_core.llm.replay import (  # noqa: F401 - the lazy names, for type checkers
        ReplayBackend,
        ReplayConfig,
        fingerprint,
        register_replay_backend,
    )
