"""A real CUDA program through the cuda executor (skipped where there is no GPU)."""

import shutil
import textwrap

import pytest
from gome_cuda import CudaExecutor, CudaExecutorConfig

from gome_core import Candidate, ExecutionRequest, ResourceLimits

pytestmark = pytest.mark.gpu


@pytest.fixture
def executor(tmp_path):
    if shutil.which("nvidia-smi") is None:
        pytest.skip("no NVIDIA driver on this machine")
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch sees no CUDA device")
    config = CudaExecutorConfig(
        workspace_root=str(tmp_path / "ws"), kill_grace_s=2.0, telemetry_period_s=0.1
    )
    with CudaExecutor(config) as ex:
        yield ex


def run(executor, code, **kwargs):
    candidate = Candidate.from_code("gpu", textwrap.dedent(code))
    return executor.run(ExecutionRequest(candidate, limits=ResourceLimits(timeout_s=120), **kwargs))


def test_a_torch_program_runs_on_its_leased_gpu(executor):
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
    result = run(executor, code)
    assert result.ok, result.stderr_tail
    visible, count = result.stdout_tail.splitlines()[0].split()
    assert count == "1" and (visible,) == result.gpu_devices
    assert executor.hardware()["gpu_model"] in result.stdout_tail
    assert result.gpu_peak_memory_mb is not None and result.gpu_peak_memory_mb >= 2048
    assert result.gpu_utilization is not None and result.gpu_utilization > 0
    assert executor.leases.held() == {}


def test_running_out_of_gpu_memory_is_recognised(executor):
    code = """
        import torch
        total = torch.cuda.get_device_properties(0).total_memory
        torch.empty(2 * total, dtype=torch.uint8, device="cuda")
    """
    result = run(executor, code)
    assert result.gpu_out_of_memory and result.outcome == "gpu-oom", result.stderr_tail
    assert executor.leases.held() == {}
