"""gome_ray: run candidates, and the cells of studies, on a Ray cluster.

Install with the ``ray`` extra (``pip install "gome[ray]"``) and choose it in the config::

    gome run --preset quickstart --task penguins-mass --set executor=ray
    gome run ... --set executor=ray --set executor.address=ray://head:10001

Importing this package does not import Ray; see ``contrib/gome_ray/README.md``.
"""

from __future__ import annotations

from gome_ray.cells import RayCellRunner
from gome_ray.config import RayCellRunnerConfig, RayExecutorConfig
from gome_ray.executor import RayExecutor

__all__ = ["RayCellRunner", "RayCellRunnerConfig", "RayExecutor", "RayExecutorConfig"]
