"""A real CUDA program through the cuda executor (skipped where there is no GPU)."""

import textwrap

import pytest

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
