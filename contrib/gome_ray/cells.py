"""The ``ray`` cell runner: the cells of a study as Ray tasks, across a cluster."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from gome_core.interfaces import CellRunner, LostCell
from gome_core.logs import get_logger
from gome_ray.config import RayCellRunnerConfig
from gome_ray.session import RaySession

__all__ = ["RayCellRunner"]

log = get_logger(__name__)

_Item = TypeVar("_Item")
_Result = TypeVar("_Result")


class RayCellRunner(CellRunner):
    """Runs each cell as a Ray task reserving ``num_cpus``, in a fresh worker process.

    A fresh process per cell (``max_calls=1``) keeps cells independent, as the local runner does:
    no plugin caches or leaked threads carried over, a crash confined to its cell (a worker or node
    that dies is yielded as a :class:`~gome_core.interfaces.LostCell`). At most
    ``workers`` cells are in flight (0: Ray's scheduler fills the cluster).
    """

    def __init__(self, config: RayCellRunnerConfig | None = None) -> None:
        self.config = config or RayCellRunnerConfig()
        self._session = RaySession(self.config.address, self.config.local_num_cpus)
        self._pending: set[Any] = set()

    def map(
        self, fn: Callable[[_Item], _Result], items: Sequence[_Item]
    ) -> Iterator[_Result | LostCell[_Item]]:
        ray = self._session.ray()
        remote = ray.remote(num_cpus=self.config.num_cpus, max_calls=1, max_retries=0)(fn)
        return self._as_finished(ray, remote, list(items))

    def _as_finished(self, ray: Any, remote: Any, items: list[Any]) -> Iterator[Any]:
        from ray.exceptions import RayTaskError

        lost_errors = _lost_errors()

        limit = self.config.workers or len(items)
        waiting = list(reversed(items))
        in_flight: dict[Any, Any] = {}  # object ref -> its item
        try:
            while waiting or in_flight:
                while waiting and len(in_flight) < limit:
                    item = waiting.pop()
                    ref = remote.remote(item)
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
