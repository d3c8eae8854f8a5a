"""Joining a Ray cluster, or starting a local one, on first use (``ray`` is imported only then)."""

from __future__ import annotations

import threading
from types import ModuleType
from typing import Any

from gome_core.logs import get_logger

__all__ = ["RaySession"]

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
