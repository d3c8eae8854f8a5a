"""Settings of the GPU-aware executor: the local sandbox's settings plus how GPUs are shared."""

from __future__ import annotations

import re
from collections.abc import Callable

import attrs
from attrs import field, frozen, validators

from gome_core.executors.local import LocalExecutorConfig

__all__ = [
    "DEVICE_IDS",
    "GPU_CODE",
    "GPU_RUNS",
    "INVENTORIES",
    "NO_GPU_FALLBACKS",
    "POLICIES",
    "CudaExecutorConfig",
]

#: Where the list of GPUs comes from: NVML (the driver's library) or the ``nvidia-smi`` command;
#: ``auto`` tries NVML first, then ``nvidia-smi``.
INVENTORIES = ("auto", "nvml", "nvidia-smi")
#: ``exclusive``: a GPU belongs to one owner (trace) at a time; ``packed``: runs share GPUs, each
#: going to the one with the most free memory.
POLICIES = ("exclusive", "packed")
#: What happens when this machine has no usable GPU: ``fail`` each run with a message saying
#: why, or run it on the ``cpu`` (with ``CUDA_VISIBLE_DEVICES`` empty and a note).
NO_GPU_FALLBACKS = ("fail", "cpu")
#: How leased GPUs are named in ``CUDA_VISIBLE_DEVICES``: by UUID (stable whatever the device
#: order) or by index (with ``CUDA_DEVICE_ORDER=PCI_BUS_ID``, the order ``nvidia-smi`` uses).
DEVICE_IDS = ("uuid", "index")
#: Which runs get GPUs: ``all`` of them, or only those whose ``gpu-code`` matches
#: ``gpu_code_pattern``; the others run at once, with no GPU and no wait for one.
GPU_RUNS = ("all", "gpu-code")
#: What marks a candidate's code as using a GPU: an import of a GPU framework, or the words
#: ``cuda`` or ``gpu`` anywhere (``device="cuda"``, ``tree_method="gpu_hist"``,
#: ``task_type="GPU"``). A match it should not have had costs a wait for a GPU, no more.
GPU_CODE = (
    r"(?m)^\s*(?:from\s+|import\s+(?:[\w.]+(?:\s+as\s+\w+)?\s*,\s*)*)"
    r"(?:torch\w*|tensorflow|keras|jax|flax"
    r"|cupy|cudf|cuml|cugraph|pycuda|transformers|sentence_transformers|timm|lightning"
    r"|pytorch_lightning|fastai|accelerate|paddle|mxnet)\b"
    r"|(?i:\b(?:cuda|gpu))"
)


def _regex(_instance: object, attribute: attrs.Attribute, value: str) -> None:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"{attribute.name} is not a regular expression: {exc}") from None


def _one_of(choices: tuple[str, ...]) -> Callable[[object, attrs.Attribute, str], None]:
    # A message of one line, for configuration errors (``$.executor.policy: invalid value: ...``).
    def check(_instance: object, attribute: attrs.Attribute, value: str) -> None:
        if value not in choices:
            names = ", ".join(repr(choice) for choice in choices)
            raise ValueError(f"{attribute.name} must be one of {names}, got {value!r}")

    return check


@frozen
class CudaExecutorConfig(LocalExecutorConfig):
    """Settings of the ``cuda`` executor: every ``local`` setting (the sandbox), plus these."""

    #: Where the list of GPUs comes from: ``auto``, ``nvml`` or ``nvidia-smi``.
    inventory: str = field(default="auto", validator=_one_of(INVENTORIES))
    #: The ``nvidia-smi`` command: a name looked up on the PATH, or a path.
    nvidia_smi: str = "nvidia-smi"
    #: How GPUs are shared among runs: ``exclusive`` or ``packed``.
    policy: str = field(default="exclusive", validator=_one_of(POLICIES))
    #: GPUs each run gets, unless its request asks for a number (``limits.gpus``).
    gpus_per_candidate: int = field(default=1, validator=validators.ge(1))
    #: Without a usable GPU: ``fail`` each run, or run it on the ``cpu``.
    on_no_gpu: str = field(default="fail", validator=_one_of(NO_GPU_FALLBACKS))
    #: How leased GPUs are named in ``CUDA_VISIBLE_DEVICES``: ``uuid`` or ``index``.
    device_ids: str = field(default="uuid", validator=_one_of(DEVICE_IDS))
    #: Which runs get GPUs: ``all``, or only candidates whose code matches ``gpu_code_pattern``
    #: (``gpu-code``); a request that asks for GPUs (``limits.gpus``) always gets them.
    gpu_runs: str = field(default="all", validator=_one_of(GPU_RUNS))
    #: The regular expression that marks a candidate's code as using a GPU (``gpu-code``).
    gpu_code_pattern: str = field(default=GPU_CODE, validator=_regex)
    #: Seconds between two readings of the leased GPUs' memory and utilisation; 0 turns it off.
    telemetry_period_s: float = field(default=0.2, validator=validators.ge(0.0))
