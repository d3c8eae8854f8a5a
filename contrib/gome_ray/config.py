"""Settings of the Ray executor and the Ray cell runner (attrs classes, filled from the config)."""

from __future__ import annotations

from attrs import field, frozen

from gome_core.executors.local import LocalExecutorConfig

__all__ = ["TRANSFER_MODES", "RayCellRunnerConfig", "RayExecutorConfig"]

#: How files reach the workers: ``auto`` uses paths a worker can see (same machine, shared file
#: system) and ships the rest; ``ship`` always ships (for workers whose paths mean other data).
TRANSFER_MODES = ("auto", "ship")


def _positive_or_zero(_instance: object, attribute: object, value: float) -> None:
    if value < 0:
        raise ValueError(f"{getattr(attribute, 'name', 'value')} must be 0 or more, got {value}")


def _check_transfer(_instance: object, _attribute: object, value: str) -> None:
    if value not in TRANSFER_MODES:
        modes = ", ".join(repr(m) for m in TRANSFER_MODES)
        raise ValueError(f"transfer must be one of {modes}, got {value!r}")


@frozen
class RayExecutorConfig:
    """Settings of the ``ray`` executor (every field has a default)."""

    #: The cluster to join: ``"auto"`` (the one running on this machine), ``"ray://head:10001"``
    #: (Ray Client), ``"head:6379"``. Default: the Ray instance this process already has, else a
    #: new local one (shut down again when the executor closes).
    address: str | None = None
    #: CPUs of a local instance the executor starts (default: all of this machine's).
    local_num_cpus: int | None = None
    #: CPUs each candidate reserves (``request.limits.cpus`` overrides); also its thread caps.
    num_cpus: float = field(default=1.0, validator=_positive_or_zero)
    #: GPUs each candidate reserves (``request.limits.gpus`` overrides when set).
    num_gpus: float = field(default=0.0, validator=_positive_or_zero)
    #: Memory (MB) each candidate reserves in Ray's scheduler; default: its memory cap, if any.
    memory_mb: int | None = None
    #: ``auto`` or ``ship``; see :data:`TRANSFER_MODES`.
    transfer: str = field(default="auto", validator=_check_transfer)
    #: Seconds a cancelled task may take to end its candidate before its worker is force-killed.
    cancel_grace_s: float = field(default=10.0, validator=_positive_or_zero)
    #: Where workers that cannot see the caller's workspace root make workspaces and keep shipped
    #: inputs (default: their temporary folder).
    worker_root: str | None = None
    #: The sandbox each candidate runs in on its worker: the local executor's settings (time-out,
    #: memory cap, network, input mode...). ``workspace_root`` is the caller's workspace root.
    sandbox: LocalExecutorConfig = LocalExecutorConfig()


@frozen
class RayCellRunnerConfig:
    """Settings of the ``ray`` cell runner."""

    #: The cluster to join; as :attr:`RayExecutorConfig.address`.
    address: str | None = None
    #: CPUs of a local instance the runner starts (default: all of this machine's).
    local_num_cpus: int | None = None
    #: CPUs each cell reserves (a cell runs a whole agent: its engine and its candidates' share).
    num_cpus: float = field(default=1.0, validator=_positive_or_zero)
    #: Cells in flight at once; 0: as many as the cluster fits.
    workers: int = field(default=0, validator=_positive_or_zero)
    #: Names of environment variables each cell gets from the driver, where the driver has them
    #: (e.g. ``GOME_MLFLOW_TRACKING_URI``); the others are the worker's own. The values travel
    #: with each cell's task, through the cluster: set secrets on the nodes instead.
    pass_env: tuple[str, ...] = field(default=(), converter=tuple)
