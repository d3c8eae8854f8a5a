"""Errors that reach a user.

Every error gome raises on purpose is a :class:`GomeError` whose message is a complete,
one-paragraph
explanation: what is wrong, where, and how to fix it. The CLI prints the message alone (no
traceback unless ``--debug``) and exits with :attr:`GomeError.exit_code`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gome_core.types import Candidate

__all__ = [
    "ComponentNotFoundError",
    "ConfigError",
    "DuplicateComponentError",
    "GomeError",
    "PluginError",
    "PluginLoadError",
    "StepFailed",
    "UsageError",
]


class GomeError(Exception):
    """Base class of gome's own errors; ``str(error)`` is written for a person."""

    exit_code: int = 1


class StepFailed(GomeError):
    """Raised by ``Optimizer.develop``, from the error that ended a step, when part of the step's
    candidate was known by then (its direction, say).

    The engine records ``candidate`` with the failure, so the journal, the report and a resumed
    run see what the step was about; the failure itself is described from the cause.
    """

    def __init__(self, candidate: Candidate) -> None:
        self.candidate = candidate
        super().__init__(f"step {candidate.id} failed while developing")


class UsageError(GomeError):
    """The user's input is wrong: a config, an option, a name, a file."""

    exit_code = 2


class ConfigError(UsageError):
    """A configuration does not fit its schema.

    ``problems`` holds ``(path, message)`` pairs such as
    ``("$.executor.timeout_s", 'expected a number, got "ten"')``.
    """

    def __init__(self, problems: list[tuple[str, str]], source: str | None = None) -> None:
        self.problems = list(problems)
        self.source = source
        where = f" in {source}" if source else ""
        lines = [f"{path}: {message}" for path, message in self.problems]
        super().__init__(f"invalid configuration{where}:\n  " + "\n  ".join(lines))


class ComponentNotFoundError(UsageError):
    """A component name that no plugin registered."""

    def __init__(self, kind: str, name: str, known: list[str], path: str | None = None) -> None:
        import difflib

        self.kind, self.name, self.known = kind, name, sorted(known)
        close = difflib.get_close_matches(name, self.known, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        listing = ", ".join(self.known) if self.known else "none"
        where = f"{path}: " if path else ""
        super().__init__(
            f"{where}no {kind} named {name!r} is registered.{hint} Registered: {listing}. "
            f"`gome plugins` shows which plugin provides what."
        )


class PluginError(UsageError):
    """A plugin is broken or conflicts with another."""


class PluginLoadError(PluginError):
    """A plugin could not be imported or failed while registering its components."""

    def __init__(
        self, plugin: str, distribution: str | None, version: str | None, cause: BaseException
    ) -> None:
        self.plugin, self.distribution, self.version, self.cause = (
            plugin,
            distribution,
            version,
            cause,
        )
        dist = f" from distribution {distribution} {version}" if distribution else ""
        super().__init__(
            f"plugin {plugin!r}{dist} failed to load: {type(cause).__name__}: {cause}. "
            f"Fix or upgrade it (pip install -U {distribution or plugin}), or disable it with "
            f"GOME_DISABLE_PLUGINS={plugin}."
        )


class DuplicateComponentError(PluginError):
    """Two plugins registered the same name for one kind of component."""

    def __init__(self, kind: str, name: str, first: str, second: str) -> None:
        self.kind, self.name, self.first, self.second = kind, name, first, second
        super().__init__(
            f"{kind} {name!r} is registered by two plugins: {first} and {second}. "
            f"Disable one of them with GOME_DISABLE_PLUGINS=<plugin>."
        )
