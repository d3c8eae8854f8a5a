"""What LLM calls cost: a price table per model, overridable in the configuration.

Prices are USD per million tokens. ``cached_input`` is the price of prompt tokens served from the
provider's prompt cache, ``cache_write`` that of tokens written to it (Anthropic charges a premium;
OpenAI caches for free). A model missing from the table costs nothing and is reported once in the
log, so that a ``usd`` budget never silently counts a paid model as free: set its price with
``[[llm.prices]]`` in the configuration.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping

import attrs
from attrs import field, frozen

from gome_core.logs import get_logger

__all__ = ["DEFAULT_PRICES", "ModelPrice", "PriceTable", "TokenCounts"]

log = get_logger(__name__)


@frozen
class ModelPrice:
    """USD per million tokens for one model (``model`` is its id, or an id prefix ending in
    ``*``)."""

    model: str = ""
    input: float = field(default=0.0, validator=attrs.validators.ge(0))
    output: float = field(default=0.0, validator=attrs.validators.ge(0))
    cached_input: float | None = None  # None: same as input
    cache_write: float | None = None  # None: same as input
    #: Writes to a long-lived cache (Anthropic's 1-hour one). None: twice the input price.
    cache_write_long: float | None = None


@frozen
class TokenCounts:
    """Tokens of one exchange, the same way for every provider.

    ``input`` counts all prompt tokens (cached and cache-written ones included); ``output`` all
    generated tokens (reasoning included).
    """

    input: int = 0
    output: int = 0
    cached: int = 0
    cache_write: int = 0
    reasoning: int = 0
    cache_write_long: int = 0  # of ``cache_write``: those written to a long-lived cache

    def __add__(self, other: TokenCounts) -> TokenCounts:
        return TokenCounts(
            *(getattr(self, a.name) + getattr(other, a.name) for a in attrs.fields(TokenCounts))
        )


def _p(model: str, input: float, cached: float | None, output: float, write: float | None = None):
    return ModelPrice(model, input, output, cached, write)


# Public list prices, standard tier, USD per million tokens, as published by OpenAI and
# Anthropic in June 2026. Newer models are not listed until their prices are checked: configure
# them with [[llm.prices]].
DEFAULT_PRICES: tuple[ModelPrice, ...] = (
    # OpenAI (prompt caching is automatic; cached input is billed at the cached rate)
    _p("gpt-5.5", 5.00, 0.50, 30.00),
    _p("gpt-5.5-pro", 30.00, None, 180.00),
    _p("gpt-5.4", 2.50, 0.25, 15.00),
    _p("gpt-5.4-mini", 0.75, 0.075, 4.50),
    _p("gpt-5.4-nano", 0.20, 0.02, 1.25),
    _p("gpt-5.4-pro", 30.00, None, 180.00),
    _p("gpt-5.2", 1.75, 0.175, 14.00),
    _p("gpt-5.2-pro", 21.00, None, 168.00),
    _p("gpt-5.1", 1.25, 0.125, 10.00),
    _p("gpt-5", 1.25, 0.125, 10.00),
    _p("gpt-5-mini", 0.25, 0.025, 2.00),
    _p("gpt-5-nano", 0.05, 0.005, 0.40),
    _p("gpt-5-pro", 15.00, None, 120.00),
    _p("gpt-4.1", 2.00, 0.50, 8.00),
    _p("gpt-4.1-mini", 0.40, 0.10, 1.60),
    _p("gpt-4.1-nano", 0.10, 0.025, 0.40),
    _p("gpt-4o", 2.50, 1.25, 10.00),
    _p("gpt-4o-mini", 0.15, 0.075, 0.60),
    _p("o3", 2.00, 0.50, 8.00),
    _p("o4-mini", 1.10, 0.275, 4.40),
    _p("o3-mini", 1.10, 0.55, 4.40),
    _p("o1", 15.00, 7.50, 60.00),
    # Anthropic (cache reads 0.1x input, 5-minute cache writes 1.25x input)
    _p("claude-opus-4-6", 5.00, 0.50, 25.00, 6.25),
    _p("claude-opus-4-5", 5.00, 0.50, 25.00, 6.25),
    _p("claude-opus-4-1", 15.00, 1.50, 75.00, 18.75),
    _p("claude-opus-4-0", 15.00, 1.50, 75.00, 18.75),
    _p("claude-opus-4", 15.00, 1.50, 75.00, 18.75),
    _p("claude-sonnet-4-6", 3.00, 0.30, 15.00, 3.75),
    _p("claude-sonnet-4-5", 3.00, 0.30, 15.00, 3.75),
    _p("claude-sonnet-4-0", 3.00, 0.30, 15.00, 3.75),
    _p("claude-sonnet-4", 3.00, 0.30, 15.00, 3.75),
    _p("claude-3-7-sonnet", 3.00, 0.30, 15.00, 3.75),
    _p("claude-haiku-4-5", 1.00, 0.10, 5.00, 1.25),
    _p("claude-3-5-haiku", 0.80, 0.08, 4.00, 1.00),
    _p("claude-3-haiku", 0.25, 0.03, 1.25, 0.30),
)

# Snapshot suffixes: gpt-5-2025-08-07, claude-haiku-4-5-20251001, claude-3-5-haiku-latest.
_SNAPSHOT = re.compile(r"(-\d{4}-\d{2}-\d{2}|-\d{8}|-latest)$")


class PriceTable:
    """Prices by model id: the defaults overlaid with the configured ones.

    Lookup tries the exact id, then the id without a snapshot suffix (``-2025-08-07``,
    ``-20251001``, ``-latest``) or a provider prefix (``openai/``), then configured prefixes
    (``model = "my-finetune-*"``). Thread-safe.
    """

    def __init__(
        self, overrides: Iterable[ModelPrice] = (), defaults: Iterable[ModelPrice] = DEFAULT_PRICES
    ) -> None:
        self._exact: dict[str, ModelPrice] = {}
        self._prefixes: list[ModelPrice] = []
        for price in (*defaults, *overrides):
            if price.model.endswith("*"):
                self._prefixes.insert(0, price)
            else:
                self._exact[price.model] = price
        self._warned: set[str] = set()
        self._lock = threading.Lock()

    def lookup(self, model: str) -> ModelPrice | None:
        """The price of ``model``, or ``None`` when the table does not know it."""
        candidates = [model, model.rsplit("/", 1)[-1]]
        candidates += [_SNAPSHOT.sub("", c) for c in candidates]
        for candidate in candidates:
            if candidate in self._exact:
                return self._exact[candidate]
        for price in self._prefixes:
            if any(c.startswith(price.model[:-1]) for c in candidates):
                return price
        return None

    def cost(self, model: str, tokens: TokenCounts, *, fallback_model: str = "") -> float:
        """USD for ``tokens`` spent on ``model`` (tried first) or ``fallback_model``."""
        price = self.lookup(model) or (self.lookup(fallback_model) if fallback_model else None)
        if price is None:
            self._warn_unknown(model or fallback_model)
            return 0.0
        cached_rate = price.input if price.cached_input is None else price.cached_input
        write_rate = price.input if price.cache_write is None else price.cache_write
        long_rate = 2 * price.input if price.cache_write_long is None else price.cache_write_long
        plain = max(tokens.input - tokens.cached - tokens.cache_write, 0)
        long = min(tokens.cache_write_long, tokens.cache_write)
        usd = (
            plain * price.input
            + tokens.cached * cached_rate
            + (tokens.cache_write - long) * write_rate
            + long * long_rate
            + tokens.output * price.output
        )
        return usd / 1_000_000

    def _warn_unknown(self, model: str) -> None:
        with self._lock:
            if model in self._warned:
                return
            self._warned.add(model)
        log.warning(
            "llm: no price known for this model; its calls count as $0 against the usd budget. "
            "Set it in the configuration: [[llm.prices]] model = ... input = ... output = ...",
            model=model,
        )

    def as_mapping(self) -> Mapping[str, ModelPrice]:
        """Exact-id entries (for reports and docs)."""
        return dict(self._exact)
