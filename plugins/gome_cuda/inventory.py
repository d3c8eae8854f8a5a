"""The GPUs of this machine, read through NVML (the driver's library) or the ``nvidia-smi`` command.

Both report the same figures for each device: index, UUID, model, total and used memory (MiB) and
utilisation (percent). A machine without a driver or without a GPU raises :class:`NoGpuError`
whose message says which, and what to do.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from typing import Any, Protocol

from attrs import frozen

from gome_core.logs import get_logger

__all__ = [
    "NVIDIA_SMI_QUERY",
    "GpuDevice",
    "Inventory",
    "NoGpuError",
    "NvidiaSmiInventory",
    "NvmlInventory",
    "open_inventory",
]

log = get_logger(__name__)

#: The fields asked of ``nvidia-smi``, in this order, one GPU per line.
NVIDIA_SMI_QUERY = "index,uuid,name,memory.total,memory.used,utilization.gpu"

_FALLBACK_HINT = (
    "set executor.on_no_gpu = 'cpu' to run candidates on the CPU instead, or use executor = 'local'"
)


class NoGpuError(RuntimeError):
    """No usable GPU here: the message says whether the driver or the device is missing."""


@frozen
class GpuDevice:
    """One GPU as its driver reports it, at the moment it was read."""

    index: int
    uuid: str
    name: str
    memory_total_mb: float
    memory_used_mb: float
    utilization: float | None = None  # percent; None where the driver does not report it

    @property
    def memory_free_mb(self) -> float:
        return max(0.0, self.memory_total_mb - self.memory_used_mb)


class Inventory(Protocol):
    """A source of GPU figures. ``devices`` reads them afresh on every call."""

    source: str

    def devices(self) -> tuple[GpuDevice, ...]:
        """Every GPU of this machine, in index order; raises :class:`NoGpuError` if none."""
        ...

    def close(self) -> None:
        """Release what reading the figures needed."""
        ...


# --------------------------------------------------------------------------- nvidia-smi


class NvidiaSmiInventory:
    """Reads the GPUs by running ``nvidia-smi --query-gpu=... --format=csv,noheader,nounits``."""

    source = "nvidia-smi"

    def __init__(self, command: str = "nvidia-smi", timeout_s: float = 10.0) -> None:
        self.command = command
        self.timeout_s = timeout_s

    def devices(self) -> tuple[GpuDevice, ...]:
        path = shutil.which(self.command)
        if path is None:
            raise NoGpuError(
                f"no NVIDIA driver: the command {self.command!r} was not found. Install the "
                f"NVIDIA driver (it brings nvidia-smi), set executor.nvidia_smi to its path, or "
                f"{_FALLBACK_HINT}."
            )
        argv = [path, f"--query-gpu={NVIDIA_SMI_QUERY}", "--format=csv,noheader,nounits"]
        try:
            done = subprocess.run(
                argv, capture_output=True, text=True, timeout=self.timeout_s, check=False
            )
        except subprocess.TimeoutExpired:
            raise NoGpuError(
                f"{self.command} did not answer within {self.timeout_s:.0f}s: the driver may be "
                f"stuck (check `{self.command}` by hand), or {_FALLBACK_HINT}."
            ) from None
        except OSError as exc:
            reason = exc.strerror or exc
            raise NoGpuError(f"cannot run {path}: {reason}; {_FALLBACK_HINT}.") from None
        said = (done.stdout + done.stderr).strip()
        if done.returncode != 0:
            if "no devices were found" in said.lower():
                raise NoGpuError(_no_device_message(self.command))
            first = said.splitlines()[0] if said else f"exit code {done.returncode}"
            raise NoGpuError(
                f"no usable NVIDIA driver: {self.command} failed ({first}). Check that the driver "
                f"is installed and loaded (`{self.command}` by hand), or {_FALLBACK_HINT}."
            )
        found = tuple(_parse_line(line) for line in done.stdout.splitlines() if line.strip())
        if not found:
            raise NoGpuError(_no_device_message(self.command))
        return found

    def close(self) -> None:
        """Nothing to release: each reading is its own process."""


def _number(text: str) -> float | None:
    # nvidia-smi prints "[N/A]" or "[Not Supported]" for figures a device does not report.
    try:
        return float(text)
    except ValueError:
        return None


def _parse_line(line: str) -> GpuDevice:
    parts = [part.strip() for part in line.split(",")]
    if len(parts) != 6 or not parts[0].isdigit():
        raise NoGpuError(
            f"unexpected nvidia-smi output {line.strip()!r}: expected the fields "
            f"{NVIDIA_SMI_QUERY}; is executor.nvidia_smi really nvidia-smi?"
        )
    index, uuid, name, total, used, utilization = parts
    return GpuDevice(
        index=int(index),
        uuid=uuid,
        name=name,
        memory_total_mb=_number(total) or 0.0,
        memory_used_mb=_number(used) or 0.0,
        utilization=_number(utilization),
    )


def _no_device_message(source: str) -> str:
    return (
        f"no GPU: the NVIDIA driver is installed but {source} reports no device (is one "
        f"attached to this machine or container, e.g. `docker run --gpus all`?); {_FALLBACK_HINT}."
    )


# --------------------------------------------------------------------------- NVML


class NvmlInventory:
    """Reads the GPUs through NVML (``pynvml`` from the ``nvidia-ml-py`` package, imported here)."""

    source = "nvml"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._nvml: Any = None
        self._open()

    def _open(self) -> None:
        try:
            import pynvml  # the `cuda` extra: `pip install 'gome[cuda]'`
        except ImportError:
            raise NoGpuError(
                "NVML is not available: the nvidia-ml-py package is not installed "
                "(pip install 'gome[cuda]'); or set executor.inventory = 'nvidia-smi'"
            ) from None
        try:
            pynvml.nvmlInit()
        except pynvml.NVMLError as exc:
            raise NoGpuError(
                f"no usable NVIDIA driver: NVML could not start ({exc}). Check that the driver "
                f"is installed and loaded (`nvidia-smi` by hand), or {_FALLBACK_HINT}."
            ) from None
        self._nvml = pynvml

    def devices(self) -> tuple[GpuDevice, ...]:
        nvml = self._nvml
        with self._lock:  # NVML handles are shared: one reader at a time keeps it simple
            if nvml is None:
                raise NoGpuError("NVML was closed")
            try:
                count = nvml.nvmlDeviceGetCount()
                found = tuple(self._device(nvml, index) for index in range(count))
            except nvml.NVMLError as exc:
                reason = f"NVML could not read the GPUs ({exc})"
                raise NoGpuError(f"{reason}; {_FALLBACK_HINT}.") from None
        if not found:
            raise NoGpuError(_no_device_message("NVML"))
        return found

    @staticmethod
    def _device(nvml: Any, index: int) -> GpuDevice:
        handle = nvml.nvmlDeviceGetHandleByIndex(index)
        memory = nvml.nvmlDeviceGetMemoryInfo(handle)
        try:
            utilization: float | None = float(nvml.nvmlDeviceGetUtilizationRates(handle).gpu)
        except nvml.NVMLError:  # e.g. MIG instances report no utilisation
            utilization = None
        return GpuDevice(
            index=index,
            uuid=_text(nvml.nvmlDeviceGetUUID(handle)),
            name=_text(nvml.nvmlDeviceGetName(handle)),
            memory_total_mb=memory.total / 2**20,
            memory_used_mb=memory.used / 2**20,
            utilization=utilization,
        )

    def close(self) -> None:
        with self._lock:
            nvml, self._nvml = self._nvml, None
        if nvml is not None:
            try:
                nvml.nvmlShutdown()
            except nvml.NVMLError as exc:
                log.debug("NVML shutdown failed", error=str(exc))


def _text(value: str | bytes) -> str:
    # Older pynvml versions return bytes.
    return value.decode() if isinstance(value, bytes) else value


# --------------------------------------------------------------------------- choosing one


def open_inventory(kind: str = "auto", nvidia_smi: str = "nvidia-smi") -> Inventory:
    """The inventory ``kind`` (``auto``, ``nvml`` or ``nvidia-smi``), checked to see a GPU.

    ``auto`` uses NVML where it starts and sees a GPU, else ``nvidia-smi``. Raises
    :class:`NoGpuError` when neither sees one; its message says why.
    """
    if kind not in ("auto", "nvml", "nvidia-smi"):
        raise ValueError(f"unknown GPU inventory {kind!r}: use 'auto', 'nvml' or 'nvidia-smi'")
    nvml_error: NoGpuError | None = None
    if kind in ("auto", "nvml"):
        try:
            nvml = NvmlInventory()
        except NoGpuError as exc:
            if kind == "nvml":
                raise
            nvml_error = exc
        else:
            try:
                nvml.devices()
                return nvml
            except NoGpuError as exc:
                nvml.close()
                if kind == "nvml":
                    raise
                nvml_error = exc
    smi = NvidiaSmiInventory(nvidia_smi)
    try:
        smi.devices()
    except NoGpuError as exc:
        if nvml_error is not None:
            log.debug("NVML sees no GPU", error=str(nvml_error))
        raise exc from None
    if nvml_error is not None:
        log.debug("using nvidia-smi: NVML sees no GPU", error=str(nvml_error))
    return smi
