"""Every hook a gome plugin can implement, grouped by phase (registration, studies, run).

A plugin is a module (or object) with functions marked ``@gome_core.hookimpl`` whose names are
hooks below; it is found through the ``gome`` entry-point group of its distribution::

    [project.entry-points.gome]
    my_plugin = "my_package.plugin"

**Registration hooks** run once, when plugins load. They *register* components by name and do
nothing else: ``register(factory, name=..., config=..., description=...)``. The factory is called
with an instance of ``config`` (an attrs class whose fields are the component's settings, filled
from the user's configuration), or with no argument when ``config`` is ``None``. A class is a fine
factory. Names are unique per kind across all plugins: two plugins registering one name is an error.

**Run hooks** observe a run; they must not change it and should return quickly: they hold up the
step that emitted the event. ``journal_event`` is called one event at a time, in journal order,
from the thread that emitted the event (a step's worker thread for that step's events). An
exception in an observer is logged; it neither stops the run nor keeps the other observers from
being called.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

import pluggy

from gome_core.types import RunInfo

__all__ = ["PROJECT", "RegisterComponent", "RegisterPreset", "hookimpl", "hookspec"]

#: The one project name: markers, the plugin manager and the entry-point group.
PROJECT = "gome"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class RegisterComponent(Protocol):
    """The ``register`` callable passed to each component registration hook."""

    def __call__(
        self,
        factory: Callable[..., Any],
        *,
        name: str,
        config: type | None = None,
        description: str = "",
    ) -> None: ...


class RegisterPreset(Protocol):
    """The ``register`` callable passed to :func:`register_presets`."""

    def __call__(
        self,
        settings: Mapping[str, Any],
        *,
        name: str,
        description: str,
        source: str = "",
        with_llm: Mapping[str, Any] | None = None,
    ) -> None: ...


# --------------------------------------------------------------------------- registration phase


@hookspec
def register_llm_backends(register: RegisterComponent) -> None:
    """Register LLM backends: factories returning :class:`~gome_core.interfaces.LLMBackend`.

    The name is the prefix of ``--llm NAME:MODEL``; the model part is given to the config's
    ``model`` field when the config class has one.
    """


@hookspec
def register_executors(register: RegisterComponent) -> None:
    """Register executors: factories returning :class:`~gome_core.interfaces.Executor`."""


@hookspec
def register_validators(register: RegisterComponent) -> None:
    """Register validators: factories returning :class:`~gome_core.interfaces.Validator`."""


@hookspec
def register_gradient_estimators(register: RegisterComponent) -> None:
    """Register gradient estimators: factories returning
    :class:`~gome_core.interfaces.GradientEstimator`."""


@hookspec
def register_momentum(register: RegisterComponent) -> None:
    """Register success memories: factories returning :class:`~gome_core.interfaces.Momentum`."""


@hookspec
def register_trace_coordinators(register: RegisterComponent) -> None:
    """Register trace coordinators: factories returning
    :class:`~gome_core.interfaces.TraceCoordinator`."""


@hookspec
def register_implementers(register: RegisterComponent) -> None:
    """Register implementers (code writers, tree-search operators): factories returning
    :class:`~gome_core.interfaces.Implementer`."""


@hookspec
def register_optimizers(register: RegisterComponent) -> None:
    """Register optimizers: factories returning :class:`~gome_core.interfaces.Optimizer`."""


@hookspec
def register_presets(register: RegisterPreset) -> None:
    """Register presets: named partial configurations (``gome run --preset NAME``).

    ``settings`` is a mapping in the shape of a configuration file, e.g.
    ``{"optimizer": {"name": "gome", "traces": 3}, "budget": {"steps": 20}}``; ``source`` says
    where the defaults come from (a paper, a repository). ``with_llm`` is laid over ``settings``
    when the run has an LLM backend (below the user's files and overrides): the LLM versions of
    the preset's reasoning components.
    """


# --------------------------------------------------------------------------- studies


@hookspec
def register_cell_runners(register: RegisterComponent) -> None:
    """Register cell runners: factories returning :class:`~gome_core.interfaces.CellRunner`.

    A cell runner runs the cells of a study (``gome study``) concurrently; the study picks one by
    name (``study.runner``). Its config class should have a ``workers`` field.
    """


# --------------------------------------------------------------------------- run phase


@hookspec
def run_started(run: RunInfo) -> None:
    """A run (new or resumed) has started; ``run.config`` is the resolved configuration."""


@hookspec
def journal_event(run: RunInfo, event: Mapping[str, Any]) -> None:
    """An event was appended to the run's journal (after it was made durable).

    ``event`` is the journal line as a JSON-ready mapping with at least ``type`` and ``seq``.
    Called one event at a time, in journal order, in the thread that emitted it: return quickly,
    and hand slow work to a thread of your own.
    """


@hookspec
def run_finished(run: RunInfo, status: str) -> None:
    """A run ended; ``status`` is ``completed``, ``budget``, ``interrupted`` or ``failed``."""


@hookspec
def run_graded(run: RunInfo, grading: Mapping[str, Any]) -> None:
    """A finished run's submission was graded (after :func:`run_finished`, in the same process).

    ``grading`` is the grader's report, as written to the run directory's ``grading.json``:
    ``score``, ``valid_submission``, the medal flags (``any_medal``, ``gold_medal``,
    ``silver_medal``, ``bronze_medal``, ``above_median``), the thresholds and ``reason``. Called by
    :func:`gome_core.engine.launch.grade_run` (``gome run``, ``gome resume`` and study cells);
    not called when the competition has no answers to grade against.
    """
