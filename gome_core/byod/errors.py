"""Errors raised while turning a folder of data into a competition.

Each message is one paragraph for a person: what gome found, the candidates it could not choose
between, and the flag that chooses.
"""

from __future__ import annotations

from collections.abc import Sequence

from gome_core.errors import UsageError

__all__ = ["AmbiguityError", "ByodError"]


class ByodError(UsageError):
    """The data folder, the goal or an option cannot be turned into a competition as given."""


class AmbiguityError(ByodError):
    """Several candidates fit equally well; gome will not pick one silently.

    ``what`` names the choice (``"target"``), ``candidates`` the plausible values and ``flag``
    the option that settles it (``"--target COL"``).
    """

    def __init__(self, what: str, problem: str, candidates: Sequence[str], flag: str) -> None:
        self.what, self.candidates, self.flag = what, tuple(candidates), flag
        shown = ", ".join(f"`{c}`" for c in self.candidates[:20])
        more = f" and {len(self.candidates) - 20} more" if len(self.candidates) > 20 else ""
        super().__init__(
            f"{problem} Candidates for the {what}: {shown or 'none'}{more}. Choose one with {flag}."
        )
