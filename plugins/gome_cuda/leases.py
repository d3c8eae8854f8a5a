"""Which runs hold which GPUs: a thread-safe lease table with two sharing policies.

A lease belongs to an *owner* (a trace, from ``ExecutionRequest.owner``). Under ``exclusive`` a
GPU is held by one owner at a time: another run of the same owner joins its lease and its GPUs;
a run of another owner gets other GPUs, or waits until enough are returned. Under ``packed`` runs
share GPUs: a new lease takes the GPUs with the most free memory (counted in whole GiB, so that
noise of a few MiB does not decide) and, among those, the ones with the fewest leases; it never
waits.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Sequence

from attrs import define, frozen

from gome_cuda.inventory import GpuDevice

__all__ = ["Lease", "LeaseTable"]


@frozen
class Lease:
    """GPUs given to one run. Return it with :meth:`LeaseTable.release`, exactly once."""

    owner: str
    devices: tuple[GpuDevice, ...]

    @property
    def indices(self) -> tuple[int, ...]:
        return tuple(device.index for device in self.devices)


@define
class _Holding:
    """The GPUs one owner holds, and how many of its runs use them now."""

    devices: tuple[GpuDevice, ...]
    runs: int = 0


class LeaseTable:
    """GPU leases by owner; ``acquire`` and ``release`` may be called from any thread."""

    def __init__(self, policy: str = "exclusive") -> None:
        if policy not in ("exclusive", "packed"):
            raise ValueError(f"unknown GPU policy {policy!r}: use 'exclusive' or 'packed'")
        self.policy = policy
        self._changed = threading.Condition()
        # Keyed by owner and GPU count: a run asking for another number of GPUs than its owner
        # holds now gets a lease of its own rather than a share of a lease of the wrong size.
        self._holdings: dict[tuple[str, int], _Holding] = {}
        self._anonymous = itertools.count(1)

    def acquire(
        self,
        owner: str,
        count: int,
        devices: Sequence[GpuDevice],
        *,
        timeout_s: float | None = None,
        stop: Callable[[], bool] = lambda: False,
    ) -> Lease | None:
        """Lease ``count`` of ``devices`` to ``owner`` (an empty owner is a run of its own).

        Waits for GPUs to be returned when the policy requires it, for ``timeout_s`` at most;
        returns ``None`` when that time ran out or ``stop()`` became true (see :meth:`wake`).
        Raises ``ValueError`` when ``count`` GPUs can never be had.
        """
        if count < 1 or count > len(devices):
            raise ValueError(
                f"a run asks for {count} GPU(s) but this machine has {len(devices)}: lower "
                f"executor.gpus_per_candidate (or the request's limits.gpus)"
            )
        owner = owner or f"run-{next(self._anonymous)}"
        key = (owner, count)
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        with self._changed:
            while True:
                if stop():
                    return None
                holding = self._holdings.get(key)
                if holding is None:
                    chosen = self._choose(count, devices)
                    if chosen is not None:
                        holding = self._holdings[key] = _Holding(chosen)
                if holding is not None:
                    holding.runs += 1
                    return Lease(owner, holding.devices)
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._changed.wait(remaining)

    def release(self, lease: Lease) -> None:
        """Return a lease; its GPUs are free again once every run of its owner has returned it."""
        key = (lease.owner, len(lease.devices))
        with self._changed:
            holding = self._holdings.get(key)
            if holding is None or holding.runs <= 0:
                raise RuntimeError(f"lease of {lease.owner!r} returned twice")
            holding.runs -= 1
            if holding.runs == 0:
                del self._holdings[key]
            self._changed.notify_all()

    def wake(self) -> None:
        """Wake every waiting ``acquire`` so that it checks its ``stop`` again."""
        with self._changed:
            self._changed.notify_all()

    def held(self) -> dict[str, tuple[int, ...]]:
        """Owner -> indices of the GPUs it holds now (empty when every lease was returned)."""
        with self._changed:
            return {owner: _indices(h.devices) for (owner, _), h in self._holdings.items()}

    # -- choosing GPUs (called with the lock held)

    def _leases_on(self) -> dict[int, int]:
        load: dict[int, int] = {}
        for holding in self._holdings.values():
            for device in holding.devices:
                load[device.index] = load.get(device.index, 0) + 1
        return load

    def _choose(self, count: int, devices: Sequence[GpuDevice]) -> tuple[GpuDevice, ...] | None:
        load = self._leases_on()
        if self.policy == "exclusive":
            free = [device for device in devices if device.index not in load]
            if len(free) < count:
                return None
            ranked = sorted(free, key=lambda d: (-d.memory_free_mb, d.index))
        else:
            ranked = sorted(
                devices,
                key=lambda d: (-(d.memory_free_mb // 1024), load.get(d.index, 0), d.index),
            )
        return tuple(sorted(ranked[:count], key=lambda d: d.index))


def _indices(devices: tuple[GpuDevice, ...]) -> tuple[int, ...]:
    return tuple(device.index for device in devices)
