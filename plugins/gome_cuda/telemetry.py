"""GPU figures read while a run goes on: peak memory and mean utilisation of its leased GPUs.

The figures are the devices' own (what NVML or ``nvidia-smi`` reports for the whole GPU): under
the ``exclusive`` policy they are the run's, under ``packed`` they include the other runs that
share the GPU.
"""

from __future__ import annotations

import statistics

from attrs import frozen

from gome_core.logs import get_logger
from gome_core.periodic import Periodic
from gome_cuda.inventory import Inventory, NoGpuError

__all__ = ["GpuTelemetry", "TelemetrySampler"]

log = get_logger(__name__)


@frozen
class GpuTelemetry:
    """What was seen of the leased GPUs during one run (``None``: nothing was read)."""

    peak_memory_mb: float | None = None  # the highest memory in use, summed over the GPUs
    utilization: float | None = None  # percent, the mean over readings and GPUs
    samples: int = 0


class TelemetrySampler(Periodic):
    """Reads ``indices`` of ``inventory`` every ``period_s`` on a background thread.

    Use as a context manager around the run; :attr:`telemetry` holds the figures afterwards.
    The first reading is taken at once, so that even a short run has one.
    """

    def __init__(self, inventory: Inventory, indices: tuple[int, ...], period_s: float) -> None:
        self._inventory = inventory
        self._indices = set(indices)
        self._memory: list[float] = []
        self._utilization: list[float] = []
        super().__init__(
            period_s if indices else 0, self._read, name="gome-gpu-telemetry", at_start=True
        )

    def _read(self) -> None:
        try:
            devices = [d for d in self._inventory.devices() if d.index in self._indices]
        except NoGpuError as exc:  # a reading that fails is skipped; the run goes on
            log.debug("GPU reading failed", error=str(exc))
            return
        if not devices:
            return
        self._memory.append(sum(d.memory_used_mb for d in devices))
        self._utilization.extend(d.utilization for d in devices if d.utilization is not None)

    @property
    def telemetry(self) -> GpuTelemetry:
        """The figures read so far (complete once the ``with`` block has ended)."""
        return GpuTelemetry(
            peak_memory_mb=max(self._memory, default=None),
            utilization=statistics.fmean(self._utilization) if self._utilization else None,
            samples=len(self._memory),
        )
