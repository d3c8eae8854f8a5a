"""Settings of the LLM reasoner's estimator, implementer and judge."""

from __future__ import annotations

import attrs
from attrs import field, frozen

__all__ = ["LLMImplementerConfig", "LLMJudgeConfig", "LLMReasonerConfig"]


@frozen
class LLMImplementerConfig:
    """Settings of the LLM code writer (every field has a default).

    ``prompts_dir`` holds templates that replace the built-in ones file by file (``diagnose.md``,
    ``select.md``, ``write.md``, ...).
    """

    #: Output room of one answer, in tokens (a whole program must fit in it).
    max_output_tokens: int = field(default=16_000, validator=attrs.validators.ge(256))
    #: The model's context window in tokens, for this component alone (default: the backend's
    #: ``context_window``, else the built-in table).
    context_window: int | None = None
    #: Characters of a program's output shown to the model (the end of it).
    output_tail_chars: int = field(default=4_000, validator=attrs.validators.ge(0))
    prompts_dir: str | None = None


@frozen
class LLMReasonerConfig(LLMImplementerConfig):
    """Settings of the LLM gradient estimator: the writer's, and how it reasons.

    ``structured=False`` is the "no structured reasoning" ablation: one unscored idea per step.
    ``selector`` is ``"llm"`` (the model picks among the top ``top_k``, seeing the hypotheses
    other traces had accepted and the time stage) or ``"sample"`` (a reproducible draw from the
    top ``top_k``, weighted by score).
    """

    structured: bool = True
    top_k: int = field(default=5, validator=attrs.validators.ge(1))
    selector: str = field(default="llm", validator=attrs.validators.in_(("llm", "sample")))
    max_problems: int = field(default=5, validator=[attrs.validators.ge(1), attrs.validators.le(5)])


@frozen
class LLMJudgeConfig:
    """Settings of the L3 LLM judge."""

    reject_overfit: bool = False
    max_output_tokens: int = field(default=2_000, validator=attrs.validators.ge(256))
    context_window: int | None = None
    output_tail_chars: int = field(default=3_000, validator=attrs.validators.ge(0))
    prompts_dir: str | None = None
