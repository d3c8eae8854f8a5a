"""Failures of provider calls, told apart the same way for every provider, and when to retry.

A backend turns its SDK's exceptions into a :class:`Failure` (:meth:`Failure.from_status` does
the HTTP part); :class:`RetryPolicy` says how long to wait before the next attempt: the server's
``Retry-After`` when it gives one, else exponential backoff with jitter, and never more in total
than ``max_total_wait_s``.
"""

from __future__ import annotations

import email.utils
import random
import re
import time
from collections.abc import Collection, Mapping
from typing import Any

from attrs import frozen

__all__ = ["Failure", "RetryPolicy", "find_rejected_param", "parse_retry_after"]

#: Failure kinds that a later attempt may get past.
RETRYABLE = frozenset({"rate_limit", "server", "timeout", "connection", "malformed"})


def parse_retry_after(headers: Mapping[str, str] | Any | None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date)."""
    if headers is None:
        return None

    def get(name: str) -> str | None:
        value = headers.get(name)
        if value is None and hasattr(headers, "items"):
            value = next((v for k, v in headers.items() if k.lower() == name), None)
        return value

    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = get(name)
        if value is None:
            continue
        try:
            seconds = float(value) / divisor
        except ValueError:
            if divisor == 1.0:
                parsed = email.utils.parsedate_tz(value)
                if parsed is not None:
                    return max(email.utils.mktime_tz(parsed) - time.time(), 0.0)
            continue
        if seconds >= 0 and seconds == seconds and seconds != float("inf"):
            return seconds
    return None


_QUOTED = re.compile(r"""['"`‘’“”]([A-Za-z_][A-Za-z0-9_.\[\]]*)['"`‘’“”]""")
_REJECTION = re.compile(
    r"unsupported|not supported|unrecognized|unknown (?:parameter|field|argument)|"
    r"not permitted|not allowed|does not support|extra (?:inputs|fields)|invalid (?:parameter|"
    r"argument)|is not available|only the default",
    re.IGNORECASE,
)


def find_rejected_param(message: str, candidates: Collection[str]) -> str | None:
    """Which of ``candidates`` a provider's 400 ``message`` says it rejects, if any.

    Matches the wordings of OpenAI (``Unsupported parameter: 'temperature' ...``,
    ``Unsupported value: 'temperature' does not support 0.2``), Azure and older servers
    (``Unrecognized request argument supplied: reasoning_effort``), pydantic-based servers such as
    vLLM (``Extra inputs are not permitted`` with the field in the location), and Anthropic
    (``temperature: ... not supported``).
    """
    if not message or not _REJECTION.search(message):
        return None
    named = [m.split(".")[-1] for m in _QUOTED.findall(message)]
    for name in named:
        if name in candidates:
            return name
    for name in sorted(candidates, key=len, reverse=True):
        if re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", message):
            return name
    return None


@frozen
class Failure:
    """A failed provider call, in provider-neutral terms.

    ``kind`` is one of ``rate_limit``, ``server``, ``timeout``, ``connection``, ``malformed``
    (an unreadable answer), ``auth``, ``bad_request`` or ``other``; ``param`` names the request
    parameter the provider rejected, when it says so. (An interrupted call raises
    ``LLMUnavailableError`` with ``kind`` ``interrupted``.)
    """

    kind: str
    message: str = ""
    status: int | None = None
    retry_after: float | None = None
    param: str | None = None

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE

    @classmethod
    def from_status(
        cls,
        status: int,
        message: str = "",
        *,
        headers: Mapping[str, str] | Any | None = None,
        param: str | None = None,
    ) -> Failure:
        """Classify an HTTP error status the way the providers document them."""
        retry_after = parse_retry_after(headers)
        should = None
        if headers is not None:
            should = headers.get("x-should-retry")
        if status == 429:
            kind = "rate_limit"
        elif status in (408, 504, 524) or status == 598:
            kind = "timeout"
        elif status == 409 or status >= 500:
            kind = "server"
        elif status in (401, 403):
            kind = "auth"
        elif 400 <= status < 500:
            kind = "bad_request"
        else:
            kind = "other"
        if should == "true" and kind not in RETRYABLE:
            kind = "server"
        elif should == "false" and kind in RETRYABLE:
            kind = "other"
        return cls(kind, message, status, retry_after, param)


@frozen
class RetryPolicy:
    """When to try again: up to ``max_retries`` retries, waiting ``Retry-After`` when the server
    says so and ``initial_s * 2**n`` (at most ``max_s``, with up to 25% jitter) otherwise, never
    more than ``max_total_wait_s`` in all."""

    max_retries: int = 6
    initial_s: float = 1.0
    max_s: float = 60.0
    max_total_wait_s: float = 600.0

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        """Seconds before retry number ``retry`` (1-based)."""
        if retry_after is not None:
            return retry_after
        backoff = min(self.initial_s * 2 ** (retry - 1), self.max_s)
        return backoff * (1 - 0.25 * random.random())
