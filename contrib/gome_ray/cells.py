"""The ``ray`` cell runner: the cells of a study as Ray tasks, across a cluster."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from gome_core.errors import UsageError
from gome_core.interfaces import CellRunner, LostCell
from gome_core.logs import get_logger
from gome_ray.config import RayCellRunnerConfig
from gome_ray.session import RaySession, live_nodes, unschedulable

__all__ = ["RayCellRunner", "cell_environment"]

log = get_logger(__name__)

_Item = TypeVar("_Item")
_Result = TypeVar("_Result")


class RayCellRunner(CellRunner):
    """Runs each cell as a Ray task reserving ``num_cpus``, in a fresh worker process.

    A fresh process per cell (``max_calls=1``) keeps cells independent, as the local runner does:
    no plugin caches or leaked threads carried over, a crash confined to its cell (a worker or node
    that dies is yielded as a :class:`~gome_core.interfaces.LostCell`). At most
    ``workers`` cells are in flight (0: Ray's scheduler fills the cluster).

    Each cell finds competitions and their data where the driver does (:func:`cell_environment`),
    not where its worker's own environment would say. A reservation that no node of the cluster
    can hold is refused at once, as the ``ray`` executor refuses one: Ray would keep the cells
    pending for good.
    """

    def __init__(self, config: RayCellRunnerConfig | None = None) -> None:
        self.config = config or RayCellRunnerConfig()
        self._session = RaySession(self.config.address, self.config.local_num_cpus)
        self._pending: set[Any] = set()

    def map(
        self, fn: Callable[[_Item], _Result], items: Sequence[_Item]
    ) -> Iterator[_Result | LostCell[_Item]]:
        ray = self._session.ray()
        self._check_fits(ray)
        env = cell_environment(self.config.pass_env)
        remote = ray.remote(num_cpus=self.config.num_cpus, max_calls=1, max_retries=0)(_run_cell)
        return self._as_finished(ray, lambda item: remote.remote(fn, env, item), list(items))

    def _check_fits(self, ray: Any) -> None:
        """Raise when no node of the cluster has ``num_cpus`` CPUs for a cell."""
        cpus = self.config.num_cpus
        local = self._session.owned and not self.config.address
        fix = "lower runner.num_cpus (the CPUs each cell reserves)" + (
            ", or give the local Ray instance more CPUs (runner.local_num_cpus; unset: all "
            "of this machine's)"
            if local
            else f", or add a node with {cpus:g} CPUs to the cluster"
        )
        problem = unschedulable(live_nodes(ray), {"CPU": cpus}, what="one study cell", fix=fix)
        if problem:
            raise UsageError(problem)

    def _as_finished(
        self, ray: Any, submit: Callable[[Any], Any], items: list[Any]
    ) -> Iterator[Any]:
        from ray.exceptions import RayTaskError

        lost_errors = _lost_errors()

        limit = self.config.workers or len(items)
        waiting = list(reversed(items))
        in_flight: dict[Any, Any] = {}  # object ref -> its item
        try:
            while waiting or in_flight:
                while waiting and len(in_flight) < limit:
                    item = waiting.pop()
                    ref = submit(item)
                    in_flight[ref] = item
                    self._pending.add(ref)
                done, _ = ray.wait(list(in_flight), num_returns=1)
                item = in_flight.pop(done[0])
                self._pending.discard(done[0])
                try:
                    result = ray.get(done[0])
                except RayTaskError as exc:
                    # The cell's own exception, not Ray's wrapper around it.
                    raise exc.as_instanceof_cause() from None
                except lost_errors as exc:  # its worker or node died: the others go on
                    reason = f"the cell's Ray worker died ({type(exc).__name__}): {exc}"
                    result = LostCell(item, reason)
                yield result
        finally:
            # Dropped early (an error, Ctrl-C): cells not yet started are not started.
            self._cancel(ray, list(in_flight))

    def _cancel(self, ray: Any, refs: list[Any]) -> None:
        for ref in refs:
            ray.cancel(ref)
            self._pending.discard(ref)

    def close(self) -> None:
        """Cancel cells still in flight and end the Ray connection this runner made."""
        if self._pending and self._session.owned:
            self._cancel(self._session.ray(), list(self._pending))
        self._session.shutdown()


def cell_environment(pass_env: Sequence[str] = ()) -> dict[str, str]:
    """The environment variables every cell gets from this process (the study's driver).

    ``GOME_DATA_DIR`` and ``GOME_COMPETITIONS_DIR`` as the driver resolves them (absolute paths;
    an empty list: the bundled competitions only), so that a cell whose spec sets no ``data_dir``
    or ``competitions_dirs`` uses the competitions and data the study checked and prepared, not
    the defaults of its worker's own environment; and the variables named in ``pass_env`` that
    the driver has.
    """
    from gome_core.competitions.store import default_data_dir

    env = os.environ
    dirs = [d for d in env.get("GOME_COMPETITIONS_DIR", "").split(os.pathsep) if d.strip()]
    out = {name: env[name] for name in pass_env if name in env}
    out["GOME_DATA_DIR"] = str(default_data_dir().resolve())
    out["GOME_COMPETITIONS_DIR"] = os.pathsep.join(
        str(Path(d).expanduser().resolve()) for d in dirs
    )
    return out


def _run_cell(fn: Callable[[_Item], _Result], env: dict[str, str], item: _Item) -> _Result:
    """A cell's task: ``fn(item)`` in the driver's environment ``env``. The worker process is the
    cell's alone (``max_calls=1``), so changing its environment touches nothing else; cheaper
    than a Ray runtime environment, which costs each fresh worker a round to Ray's agent."""
    os.environ.update(env)
    return fn(item)


def _lost_errors() -> tuple[type[BaseException], ...]:
    """Ray's errors for a cell whose process (or node) died; others, such as a runtime
    environment that cannot be set up, are mistakes that stop the study."""
    from ray import exceptions

    return (
        exceptions.WorkerCrashedError,
        exceptions.OutOfMemoryError,
        exceptions.NodeDiedError,
        exceptions.LocalRayletDiedError,
        exceptions.ObjectLostError,
    )
