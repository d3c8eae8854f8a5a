"""The GPU-aware executor: the local sandbox, with GPUs leased to each run.

Per run it reads the GPUs (:mod:`gome_cuda.inventory`), leases some to the run's owner by the
configured policy (:mod:`gome_cuda.leases`), names them in the candidate's
``CUDA_VISIBLE_DEVICES``, runs the candidate in a composed :class:`LocalExecutor` while a
background thread reads the GPUs' memory and utilisation (:mod:`gome_cuda.telemetry`), and
returns the lease however the run ended. A run that died of CUDA running out of memory is
reported as ``gpu_out_of_memory`` (outcome ``gpu-oom``). With ``gpu_runs = "gpu-code"`` a
candidate whose code uses no GPU (:func:`uses_gpu`) runs at once with every GPU hidden, rather
than wait for a lease it would not use.
"""

from __future__ import annotations

import re
import threading
import time

import attrs

from gome_core.executors.local import LocalExecutor
from gome_core.executors.sandbox import Isolation
from gome_core.interfaces import Executor
from gome_core.logs import get_logger
from gome_core.types import Candidate, ExecutionRequest, ExecutionResult
from gome_cuda.config import GPU_CODE, CudaExecutorConfig
from gome_cuda.inventory import GpuDevice, Inventory, NoGpuError, open_inventory
from gome_cuda.leases import Lease, LeaseTable
from gome_cuda.telemetry import GpuTelemetry, TelemetrySampler

__all__ = ["GPU_OUT_OF_MEMORY", "CudaExecutor", "is_gpu_out_of_memory", "uses_gpu"]

log = get_logger(__name__)

#: What CUDA programs print when the GPU runs out of memory: PyTorch, the CUDA driver and runtime
#: APIs, cuBLAS/cuDNN, TensorFlow and XLA (JAX).
GPU_OUT_OF_MEMORY = re.compile(
    r"CUDA out of memory|torch\.(?:cuda\.)?OutOfMemoryError|CUDA_ERROR_OUT_OF_MEMORY"
    r"|cudaErrorMemoryAllocation|CUBLAS_STATUS_ALLOC_FAILED|CUDNN_STATUS_ALLOC_FAILED"
    r"|OOM when allocating tensor|RESOURCE_EXHAUSTED: Out of memory"
)


def is_gpu_out_of_memory(result: ExecutionResult) -> bool:
    """Whether a run that failed did so because the GPU ran out of memory."""
    failed = result.exit_code != 0 or result.signal is not None
    if not failed or result.error is not None or result.cancelled or result.timed_out:
        return False
    return bool(GPU_OUT_OF_MEMORY.search(result.stderr_tail))


def uses_gpu(candidate: Candidate, pattern: str | re.Pattern[str] = GPU_CODE) -> bool:
    """Whether any of the candidate's files matches ``pattern`` (by default: names a GPU library,
    or says ``cuda`` or ``gpu``)."""
    compiled = re.compile(pattern)  # a compiled pattern comes back as it is
    return any(compiled.search(text) for text in candidate.files.values())


class CudaExecutor(Executor):
    """Runs candidates in the local sandbox, each with GPUs of its own; see the module docstring.

    ``inventory`` replaces the configured source of GPU figures (tests pass a fake one);
    ``isolation`` restricts the sandbox as for :class:`LocalExecutor`.
    """

    def __init__(
        self,
        config: CudaExecutorConfig | None = None,
        *,
        inventory: Inventory | None = None,
        isolation: Isolation | None = None,
    ) -> None:
        self.config = config or CudaExecutorConfig()
        # The config is a LocalExecutorConfig too: the sandbox reads its own fields from it.
        self._local = LocalExecutor(self.config, isolation=isolation)
        self.leases = LeaseTable(self.config.policy)
        self._lock = threading.Lock()
        self._inventory = inventory
        self._no_gpu: str | None = None  # why there is no usable GPU, once found out
        self._generation = 0  # bumped by cancel(): runs waiting from an older one give up
        self._closed = False
        self._gpu_code = re.compile(self.config.gpu_code_pattern)

    # -- the GPUs

    def _read_devices(self) -> tuple[Inventory | None, tuple[GpuDevice, ...], str | None]:
        """The inventory and its GPUs now, or why there are none (found out once, then kept)."""
        with self._lock:
            if self._no_gpu is not None:
                return None, (), self._no_gpu
            if self._inventory is None:
                try:
                    self._inventory = open_inventory(self.config.inventory, self.config.nvidia_smi)
                except NoGpuError as exc:
                    self._no_gpu = str(exc)
                    log.warning("no usable GPU", reason=self._no_gpu)
                    return None, (), self._no_gpu
            inventory = self._inventory
        try:
            return inventory, inventory.devices(), None
        except NoGpuError as exc:  # a GPU that was there has gone (driver reset, fell off the bus)
            return None, (), str(exc)

    def hardware(self) -> dict[str, object]:
        """CPUs and memory of this machine, and the GPUs one candidate gets (model, memory)."""
        facts = self._local.hardware()
        _, devices, no_gpu = self._read_devices()
        if no_gpu is not None:
            return {**facts, "gpus": 0, "gpu_note": no_gpu}
        models = sorted({device.name for device in devices})
        return {
            **facts,
            "gpus": min(self.config.gpus_per_candidate, len(devices)),
            "gpu_model": ", ".join(models),
            "gpu_memory_mb": round(min(device.memory_total_mb for device in devices)),
            "gpus_on_machine": len(devices),
            "gpu_policy": self.config.policy,
            "gpu_runs": self.config.gpu_runs,
        }

    # -- running

    def run(self, request: ExecutionRequest) -> ExecutionResult:
        """Run ``request`` with GPUs leased to its owner; the lease is returned however it ends."""
        cap = self.config.output_cap_bytes
        with self._lock:
            generation, closed = self._generation, self._closed
        if closed:
            return ExecutionResult.not_run("executor closed", output_cap_bytes=cap, cancelled=True)
        if not self._wants_gpu(request):
            return self._run_on_cpu(
                request, "the candidate's code uses no GPU (gpu_runs = 'gpu-code')"
            )
        inventory, devices, no_gpu = self._read_devices()
        if no_gpu is not None or inventory is None:
            return self._run_without_gpu(request, no_gpu or "no GPU")
        count = request.limits.gpus or self.config.gpus_per_candidate
        # Waiting for a GPU is bounded by the run's time-out; the run then gets all of it.
        timeout_s = request.limits.timeout_s or self.config.timeout_s
        waited_from = time.monotonic()
        try:
            lease = self.leases.acquire(
                request.owner,
                count,
                devices,
                timeout_s=timeout_s,
                stop=lambda: self._stopped(generation),
            )
        except ValueError as exc:
            return ExecutionResult.not_run(str(exc), output_cap_bytes=cap)
        if lease is None:
            return self._not_leased(generation, time.monotonic() - waited_from, cap)
        try:
            return self._run_leased(request, lease, inventory, generation)
        finally:
            self.leases.release(lease)

    def _wants_gpu(self, request: ExecutionRequest) -> bool:
        if self.config.gpu_runs == "all" or request.limits.gpus:
            return True
        return uses_gpu(request.candidate, self._gpu_code)

    def _stopped(self, generation: int) -> bool:
        with self._lock:
            return self._closed or self._generation != generation

    def _not_leased(self, generation: int, waited_s: float, cap: int) -> ExecutionResult:
        if self._stopped(generation):
            return ExecutionResult.not_run(output_cap_bytes=cap, cancelled=True)
        held = ", ".join(
            f"{owner}: {','.join(map(str, indices))}"
            for owner, indices in sorted(self.leases.held().items())
        )
        return ExecutionResult(
            exit_code=None,
            timed_out=True,
            wall_s=waited_s,
            output_cap_bytes=cap,
            error=(
                f"no GPU came free within the run's time-out ({waited_s:.0f}s) under the "
                f"exclusive policy (held: {held or 'none'}); run fewer candidates at once "
                f"(engine.workers), or share GPUs with executor.policy = 'packed'"
            ),
        )

    def _run_leased(
        self, request: ExecutionRequest, lease: Lease, inventory: Inventory, generation: int
    ) -> ExecutionResult:
        leased = attrs.evolve(request, env={**request.env, **self._visible(lease)})
        sampler = TelemetrySampler(inventory, lease.indices, self.config.telemetry_period_s)
        with sampler:
            if self._stopped(generation):  # cancel() came while the lease was being made
                result = ExecutionResult.not_run(
                    output_cap_bytes=self.config.output_cap_bytes, cancelled=True
                )
            else:
                result = self._local.run(leased)
        return _with_gpu_facts(result, lease, sampler.telemetry)

    def _visible(self, lease: Lease) -> dict[str, str]:
        if self.config.device_ids == "index":
            # CUDA numbers devices fastest first unless told otherwise; nvidia-smi's indices
            # follow the PCI bus.
            ids = ",".join(str(device.index) for device in lease.devices)
            return {"CUDA_VISIBLE_DEVICES": ids, "CUDA_DEVICE_ORDER": "PCI_BUS_ID"}
        return {"CUDA_VISIBLE_DEVICES": ",".join(device.uuid for device in lease.devices)}

    def _run_without_gpu(self, request: ExecutionRequest, reason: str) -> ExecutionResult:
        if self.config.on_no_gpu == "fail":
            return ExecutionResult.not_run(reason, output_cap_bytes=self.config.output_cap_bytes)
        return self._run_on_cpu(request, f"on_no_gpu = 'cpu': {reason}")

    def _run_on_cpu(self, request: ExecutionRequest, why: str) -> ExecutionResult:
        # An empty list hides every GPU from CUDA: frameworks fall back to the CPU.
        env = {**request.env, "CUDA_VISIBLE_DEVICES": ""}
        result = self._local.run(attrs.evolve(request, env=env))
        note = f"gpu: none used, the candidate ran on the CPU ({why})"
        return attrs.evolve(result, notes=(*result.notes, note))

    # -- ending

    def cancel(self) -> None:
        """End every run in flight, those waiting for a GPU included."""
        with self._lock:
            self._generation += 1
        self.leases.wake()
        self._local.cancel()

    def close(self) -> None:
        """Cancel what is in flight, refuse new runs, release the sandbox and the inventory."""
        with self._lock:
            self._closed = True
            inventory, self._inventory = self._inventory, None
        self.leases.wake()
        self._local.close()
        if inventory is not None:
            inventory.close()


def _with_gpu_facts(
    result: ExecutionResult, lease: Lease, telemetry: GpuTelemetry
) -> ExecutionResult:
    return attrs.evolve(
        result,
        gpu_devices=tuple(device.uuid for device in lease.devices),
        gpu_peak_memory_mb=telemetry.peak_memory_mb,
        gpu_utilization=telemetry.utilization,
        gpu_out_of_memory=is_gpu_out_of_memory(result),
    )
