"""Joining a Ray cluster, or starting a local one, on first use (``ray`` is imported only then);
and whether the cluster has a node that can hold a reservation at all."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any

from gome_core.logs import get_logger

__all__ = ["RaySession", "live_nodes", "unschedulable"]

log = get_logger(__name__)


class RaySession:
    """The Ray connection of one executor or cell runner.

    Connecting is lazy, so that building a configured run (or listing plugins) never imports Ray.
    A Ray connection this process already has is used as it is and left open; one the session
    makes itself (a local instance it starts, or a cluster it joins) is ended by :meth:`shutdown`:
    a local instance stops, a joined cluster goes on without this driver.
    """

    def __init__(self, address: str | None, local_num_cpus: int | None) -> None:
        self.address = address
        self.local_num_cpus = local_num_cpus
        self.owned = False
        self._lock = threading.Lock()
        self._ray: ModuleType | None = None

    def ray(self) -> ModuleType:
        """The ``ray`` module, connected."""
        with self._lock:
            if self._ray is not None:
                return self._ray
            import ray

            if not ray.is_initialized():
                options: dict[str, Any] = {
                    "include_dashboard": False,
                    "log_to_driver": False,
                    "configure_logging": False,
                }
                if self.address:
                    options["address"] = self.address
                elif self.local_num_cpus is not None:
                    options["num_cpus"] = self.local_num_cpus
                ray.init(**options)
                self.owned = True
                log.info("ray connected", address=self.address or "a new local instance")
            self._ray = ray
            return ray

    def shutdown(self) -> None:
        """End the connection this session made (stopping a local instance it started)."""
        with self._lock:
            ray, self._ray = self._ray, None
            if ray is not None and self.owned:
                ray.shutdown()
                self.owned = False


def live_nodes(ray: ModuleType) -> list[dict[str, float]]:
    """The resources (``CPU``, ``GPU``, ``memory`` in bytes...) of each live node."""
    return [dict(n["Resources"]) for n in ray.nodes() if n.get("Alive")]


_NODES_SHOWN = 4  # nodes listed in the message; the rest are counted


def unschedulable(
    nodes: Sequence[Mapping[str, float]], wanted: Mapping[str, float], *, what: str, fix: str
) -> str | None:
    """Why no node could ever run a task reserving ``wanted`` (``{"CPU": 2, "GPU": 0,
    "memory": bytes}``), if none could; ``None`` when one can.

    Ray keeps such a task pending for good, silently; the executor and the cell runner say so at
    once instead. ``what`` names the task (``one candidate``), ``fix`` says what to change.
    """
    if any(all(node.get(k, 0) >= v for k, v in wanted.items()) for node in nodes):
        return None
    asked = [k for k, v in wanted.items() if v]  # the kinds of resource the task reserves

    def amounts(resources: Mapping[str, float]) -> str:
        return ", ".join(
            f"{int(resources.get(k, 0)) // 2**20} MB memory"
            if k == "memory"
            else f"{resources.get(k, 0):g} {k}"
            for k in asked
        )

    # Each node's own amounts: maxima taken per resource could add up to a node that does not
    # exist (the CPUs of one, the GPU of another).
    shown = "; ".join(amounts(node) for node in nodes[:_NODES_SHOWN])
    if len(nodes) > _NODES_SHOWN:
        shown += f"; {len(nodes) - _NODES_SHOWN} more"
    return (
        f"no node of the Ray cluster has {amounts(wanted)} for {what} "
        f"({len(nodes)} node{'' if len(nodes) == 1 else 's'}"
        + (f": {shown}" if nodes and asked else "")
        + f"); {fix}"
    )
