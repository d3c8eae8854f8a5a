"""Fitting a prompt into a model's context window.

Prompts are built from *sections* (the task, the current code, history, memory, output tails).
:func:`fit_sections` shortens the sections that may be shortened, lowest priority first, until the
prompt fits a token budget, and records what it dropped so that the journal can say so.
:func:`prompt_budget` gives that budget for a model: its context window minus the room kept for
the answer. Token counts are estimated from characters (about 4 per token for English and code,
counted conservatively); no tokenizer is needed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import attrs
from attrs import field, frozen

from gome_core.types import Message

__all__ = [
    "CONTEXT_WINDOWS",
    "DEFAULT_CONTEXT_WINDOW",
    "Dropped",
    "Fitted",
    "Section",
    "context_window",
    "estimate_tokens",
    "fit_messages",
    "fit_sections",
    "prompt_budget",
]

#: Tokens per model family (prefix match, longest first), from the providers' model pages.
CONTEXT_WINDOWS: dict[str, int] = {
    "gpt-5.5": 1_050_000,
    "gpt-5.4": 1_050_000,
    "gpt-5": 400_000,
    "gpt-4.1": 1_047_576,
    "gpt-4o": 128_000,
    "o1": 200_000,
    "o3": 200_000,
    "o4": 200_000,
    "claude-opus-4-6": 1_000_000,
    "claude-sonnet-4-6": 1_000_000,
    "claude-haiku": 200_000,
    "claude": 200_000,
}

#: For models the table does not know (local models are often smaller: set ``context_window``).
DEFAULT_CONTEXT_WINDOW = 128_000

#: Characters per token used for estimates; below the usual ~4 so that estimates err high.
CHARS_PER_TOKEN = 3.5


def estimate_tokens(text: str) -> int:
    """A conservative estimate of the tokens in ``text``."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def context_window(model: str, override: int | None = None) -> int:
    """The context window of ``model`` in tokens (``override`` wins when given)."""
    if override:
        return override
    name = model.rsplit("/", 1)[-1]
    for prefix in sorted(CONTEXT_WINDOWS, key=len, reverse=True):
        if name.startswith(prefix):
            return CONTEXT_WINDOWS[prefix]
    return DEFAULT_CONTEXT_WINDOW


def prompt_budget(
    model: str,
    *,
    max_output_tokens: int = 16_000,
    override: int | None = None,
    margin: float = 0.05,
) -> int:
    """Tokens a prompt may use on ``model``: the window, less the answer's room and a margin."""
    window = context_window(model, override)
    return max(int(window * (1 - margin)) - max_output_tokens, 1_000)


@frozen
class Section:
    """A named part of a prompt.

    ``keep`` says which end survives trimming: ``"end"`` for logs, history and output tails (the
    newest part matters), ``"start"`` for documents, ``"all"`` for parts that must never be cut
    (the task, the instructions). Lower ``priority`` is trimmed first. ``min_chars`` is kept at
    least.
    """

    name: str
    text: str
    priority: int = 0
    keep: str = field(default="end", validator=attrs.validators.in_(("end", "start", "all")))
    min_chars: int = 0


@frozen
class Dropped:
    """What trimming removed from one section."""

    section: str
    chars: int
    tokens: int


@frozen
class Fitted:
    """Sections after fitting, what was dropped, and the estimated total."""

    sections: tuple[Section, ...]
    dropped: tuple[Dropped, ...] = ()
    tokens: int = 0
    fits: bool = True

    def text(self, separator: str = "\n\n") -> str:
        """The sections joined (empty ones left out)."""
        return separator.join(s.text for s in self.sections if s.text)

    def section(self, name: str) -> str:
        return next((s.text for s in self.sections if s.name == name), "")


def _marker(chars: int) -> str:
    return f"[... {chars} characters dropped to fit the context window ...]"


def _cut(section: Section, target_chars: int) -> tuple[Section, int]:
    """``section`` shortened to about ``target_chars``, on a line boundary where possible, and
    the number of characters dropped."""
    text = section.text
    if section.keep == "end":
        kept = text[len(text) - target_chars :] if target_chars > 0 else ""
        newline = kept.find("\n")
        if 0 <= newline < len(kept) // 2:
            kept = kept[newline + 1 :]
        dropped = len(text) - len(kept)
        body = f"{_marker(dropped)}\n{kept}" if kept else _marker(dropped)
    else:
        kept = text[:target_chars] if target_chars > 0 else ""
        newline = kept.rfind("\n")
        if newline > len(kept) // 2:
            kept = kept[:newline]
        dropped = len(text) - len(kept)
        body = f"{kept}\n{_marker(dropped)}" if kept else _marker(dropped)
    return attrs.evolve(section, text=body), dropped


def fit_sections(sections: Iterable[Section], budget_tokens: int) -> Fitted:
    """Shorten ``sections`` until their estimated tokens fit ``budget_tokens``.

    Sections are trimmed lowest priority first (the largest first among equals), each down to its
    ``min_chars``, before the next is touched. ``Fitted.fits`` is false when even that is not
    enough (the untrimmable sections alone are too long); the caller decides what then.
    """
    current = list(sections)
    dropped: dict[str, int] = {}

    def total() -> int:
        return sum(estimate_tokens(s.text) for s in current) + 4 * len(current)

    order = sorted(
        (i for i, s in enumerate(current) if s.keep != "all"),
        key=lambda i: (current[i].priority, -len(current[i].text)),
    )
    for index in order:
        excess = total() - budget_tokens
        if excess <= 0:
            break
        section = current[index]
        room = len(section.text) - section.min_chars
        marker = len(_marker(len(section.text))) + 1
        if room <= marker:
            continue
        cut_chars = min(math.ceil(excess * CHARS_PER_TOKEN) + marker, room)
        target = len(section.text) - cut_chars
        shortened, removed = _cut(section, max(target, section.min_chars))
        if len(shortened.text) >= len(section.text):
            continue
        current[index] = shortened
        dropped[section.name] = dropped.get(section.name, 0) + removed
    records = tuple(
        Dropped(name, chars, math.ceil(chars / CHARS_PER_TOKEN)) for name, chars in dropped.items()
    )
    used = total()
    return Fitted(tuple(current), records, used, used <= budget_tokens)


def fit_messages(
    messages: Sequence[Message], budget_tokens: int, *, keep_first: int = 1, keep_last: int = 2
) -> tuple[tuple[Message, ...], int]:
    """Drop the oldest middle messages of a conversation until it fits ``budget_tokens``.

    The first ``keep_first`` (the task) and the last ``keep_last`` messages stay; dropped turns
    are replaced by one note so the model knows history was cut. Returns the messages and the
    number dropped. Messages stay in user/assistant alternation.
    """
    messages = list(messages)

    def size(ms: Sequence[Message]) -> int:
        return sum(estimate_tokens(m.content) + 4 for m in ms)

    head, tail = messages[:keep_first], messages[keep_first:]
    middle, last = tail[: max(len(tail) - keep_last, 0)], tail[max(len(tail) - keep_last, 0) :]
    removed = 0
    while middle and size(head + middle + last) > budget_tokens:
        # Drop in pairs so that user and assistant turns keep alternating.
        take = 2 if len(middle) >= 2 else 1
        middle = middle[take:]
        removed += take
    if removed:
        note = Message.user(f"[{removed} earlier messages dropped to fit the context window]")
        if middle and middle[0].role == "user":
            middle[0] = Message.user(f"{note.content}\n\n{middle[0].content}")
        elif head and head[-1].role == "user":
            head = [*head[:-1], Message.user(f"{head[-1].content}\n\n{note.content}")]
    return tuple(head + middle + last), removed
