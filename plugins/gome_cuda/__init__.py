"""GPU-aware executor: each candidate runs in the local sandbox with GPUs leased to it."""

from gome_cuda.config import CudaExecutorConfig
from gome_cuda.executor import CudaExecutor, is_gpu_out_of_memory, uses_gpu
from gome_cuda.inventory import GpuDevice, NoGpuError, open_inventory
from gome_cuda.leases import Lease, LeaseTable

__all__ = [
    "CudaExecutor",
    "CudaExecutorConfig",
    "GpuDevice",
    "Lease",
    "LeaseTable",
    "NoGpuError",
    "is_gpu_out_of_memory",
    "open_inventory",
    "uses_gpu",
]
