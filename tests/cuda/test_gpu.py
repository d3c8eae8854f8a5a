"""A real CUDA program through the cuda executor (skipped where there is no GPU)."""

import textwrap
from concurrent.futures import ThreadPoolExecutor

import attrs
import pytest
from gome_cuda import CudaExecutor

from gome_core import Candidate, ExecutionRequest, ResourceLimits

pytestmark = pytest.mark.gpu


def run(executor, code, **kwargs):
    candidate = Candidate.from_code("gpu", textwrap.dedent(code))
    return executor.run(ExecutionRequest(candidate, limits=ResourceLimits(timeout_s=120), **kwargs))


def test_a_torch_program_runs_on_its_leased_gpu(cuda_executor):
    code = """
        import os, time, torch
        assert torch.cuda.is_available()
        print(os.environ["CUDA_VISIBLE_DEVICES"], torch.cuda.device_count())
        block = torch.empty(2 * 2**30, dtype=torch.uint8, device="cuda")  # 2 GiB held
        a = torch.randn(4096, 4096, device="cuda")
        end = time.monotonic() + 1.5
        while time.monotonic() < end:
            a = (a @ a).clamp_(-1, 1)
        torch.cuda.synchronize()
        print(torch.cuda.get_device_name(0), float(a.sum()) == float(a.sum()))
    """
    result = run(cuda_executor, code)
    assert result.ok, result.stderr_tail
    visible, count = result.stdout_tail.splitlines()[0].split()
    assert count == "1" and (visible,) == result.gpu_devices
    assert cuda_executor.hardware()["gpu_model"] in result.stdout_tail
    assert result.gpu_peak_memory_mb is not None and result.gpu_peak_memory_mb >= 2048
    assert result.gpu_utilization is not None and result.gpu_utilization > 0
    assert cuda_executor.leases.held() == {}


def test_running_out_of_gpu_memory_is_recognised(cuda_executor):
    code = """
        import torch
        total = torch.cuda.get_device_properties(0).total_memory
        torch.empty(2 * total, dtype=torch.uint8, device="cuda")
    """
    result = run(cuda_executor, code)
    assert result.gpu_out_of_memory and result.outcome == "gpu-oom", result.stderr_tail
    assert cuda_executor.leases.held() == {}


def test_under_gpu_code_a_torch_program_has_the_gpu_and_a_numpy_one_runs_beside_it(cuda_executor):
    torch_code = """
        import time, torch
        a = torch.randn(4096, 4096, device="cuda")
        end = time.monotonic() + 2
        while time.monotonic() < end:
            a = (a @ a).clamp_(-1, 1)
        torch.cuda.synchronize()
        print(torch.cuda.device_count(), time.time())
    """
    # Reads the variable through WHICH: naming it would mark the program as GPU code.
    numpy_code = """
        import os, time, numpy
        print(repr(os.environ[os.environ["WHICH"]]), time.time(), numpy.ones(3).sum())
    """
    config = attrs.evolve(cuda_executor.config, gpu_runs="gpu-code")
    with CudaExecutor(config) as executor, ThreadPoolExecutor(1) as pool:
        on_gpu = pool.submit(run, executor, torch_code, owner="trace-0")
        on_cpu = run(executor, numpy_code, owner="trace-1", env={"WHICH": "CUDA_VISIBLE_DEVICES"})
        on_gpu = on_gpu.result()
        assert on_gpu.ok and on_cpu.ok, (on_gpu.stderr_tail, on_cpu.stderr_tail)
        count, gpu_done = on_gpu.stdout_tail.split()
        hidden, cpu_done, _ = on_cpu.stdout_tail.split()
        assert count == "1" and len(on_gpu.gpu_devices) == 1
        assert hidden == "''" and on_cpu.gpu_devices == ()
        assert float(cpu_done) < float(gpu_done), "the numpy program did not wait for the GPU"
        assert executor.leases.held() == {}
