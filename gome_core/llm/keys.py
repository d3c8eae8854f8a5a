"""API keys: looked up in the environment when a backend is built, never printed.

A key lives in a :class:`Secret`, whose ``repr`` and ``str`` are masked; only the code that hands
it to an SDK calls :meth:`Secret.reveal`. :func:`scrub` removes known secrets from text that is
about to be written somewhere (a cassette, an error message).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

from gome_core.llm.errors import MissingAPIKeyError

__all__ = ["REDACTED", "Secret", "environment_secrets", "resolve_api_key", "scrub"]

REDACTED = "[REDACTED]"

#: Environment variables whose values are treated as secrets by :func:`environment_secrets`.
_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|CREDENTIALS?)$", re.IGNORECASE)


class Secret:
    """A secret string that does not show itself: ``repr``/``str`` are masked, ``==`` compares
    values, and it is never picklable by accident into a journal (it is not a value type)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret itself: only for handing to the SDK that sends it."""
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __repr__(self) -> str:
        return "Secret('********')" if self._value else "Secret('')"

    __str__ = __repr__

    def __reduce__(self) -> object:
        raise TypeError("a Secret cannot be pickled")


def resolve_api_key(
    variable: str,
    *,
    provider: str,
    environ: Mapping[str, str] | None = None,
    local_hint: bool = False,
) -> Secret:
    """The key held by environment variable ``variable``.

    ``variable == ""`` means the server needs no key (a local server): an empty :class:`Secret`.
    An unset or empty variable raises :class:`MissingAPIKeyError`, which names the variable.
    """
    if not variable:
        return Secret("")
    environ = os.environ if environ is None else environ
    value = (environ.get(variable) or "").strip()
    if not value:
        raise MissingAPIKeyError(provider, variable, local_hint=local_hint)
    return Secret(value)


def environment_secrets(environ: Mapping[str, str] | None = None) -> list[str]:
    """Values of environment variables named like secrets (``*_KEY``, ``*_TOKEN``, ...)."""
    environ = os.environ if environ is None else environ
    return [v for k, v in environ.items() if _SECRET_NAME.search(k) and len(v.strip()) >= 8]


def scrub(text: str, secrets: Iterable[Secret | str]) -> str:
    """``text`` with every occurrence of each secret replaced by :data:`REDACTED`."""
    values = sorted(
        {s.reveal() if isinstance(s, Secret) else s for s in secrets} - {""}, key=len, reverse=True
    )
    for value in values:
        if value in text:
            text = text.replace(value, REDACTED)
    return text
