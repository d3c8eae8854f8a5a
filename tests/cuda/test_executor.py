"""The cuda executor: the conformance suite, GPU leases per trace, telemetry, GPU out-of-memory and
the fallbacks without a GPU; the GPUs are a fake nvidia-smi reporting four."""

import os
import re
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import attrs
import pytest
from gome_cuda import CudaExecutor, CudaExecutorConfig, is_gpu_out_of_memory, uses_gpu

from gome_core import Candidate, ExecutionRequest, ExecutionResult, ResourceLimits
from gome_core.config import resolve
from gome_core.errors import ConfigError
from gome_core.journal import from_data, to_data
from gome_core.testing import ExecutorSuite, PluginSuite

from .conftest import FOUR_GPUS, UUIDS, FakeSmi


def make(tmp_path, smi_path, **settings):
    settings.setdefault("workspace_root", str(tmp_path / "ws"))
    settings.setdefault("kill_grace_s", 0.5)
    settings.setdefault("inventory", "nvidia-smi")
    settings.setdefault("telemetry_period_s", 0.1)
    return CudaExecutor(CudaExecutorConfig(nvidia_smi=str(smi_path), **settings))


def run(executor, code, **kwargs):
    candidate = Candidate.from_code(kwargs.pop("id", "c"), textwrap.dedent(code))
    return executor.run(ExecutionRequest(candidate, **kwargs))


class TestCudaExecutor(ExecutorSuite):
    """The contract holds with GPUs leased, and every lease is back after each check."""

    @pytest.fixture
    def executor(self, tmp_path):
        with make(tmp_path, FakeSmi(tmp_path / "fake-driver").path) as ex:
            yield ex

    @pytest.fixture(autouse=True)
    def every_lease_is_returned(self, executor):
        yield
        assert executor.leases.held() == {}


class TestCudaPlugin(PluginSuite):
    @pytest.fixture
    def plugin(self):
        import gome_cuda.plugin

        return gome_cuda.plugin


@pytest.fixture
def executor(tmp_path, fake_smi):
    with make(tmp_path, fake_smi.path) as ex:
        yield ex


# --------------------------------------------------------------------------- leases


SEE_DEVICES = """
import os, time
folder = os.environ["RENDEZVOUS"]
open(os.path.join(folder, os.environ["ME"]), "w").close()
deadline = time.monotonic() + 10  # wait until every candidate runs: they hold their GPUs at once
while len(os.listdir(folder)) < int(os.environ["TOGETHER"]) and time.monotonic() < deadline:
    time.sleep(0.02)
print(os.environ["CUDA_VISIBLE_DEVICES"], len(os.listdir(folder)))
"""


def run_together(executor, tmp_path, owners, **kwargs):
    """Run one candidate per owner at once; each waits until all have started."""
    folder = tmp_path / "rendezvous"
    folder.mkdir()

    def one(owner):
        env = {"RENDEZVOUS": str(folder), "ME": owner, "TOGETHER": str(len(owners))}
        return run(executor, SEE_DEVICES, id=owner, owner=owner, env=env, **kwargs)

    with ThreadPoolExecutor(len(owners)) as pool:
        results = list(pool.map(one, owners))
    for result in results:
        assert result.ok, result
    return [result.stdout_tail.split() for result in results]


def test_four_traces_at_once_each_see_a_gpu_of_their_own(executor, tmp_path):
    seen = run_together(executor, tmp_path, ["trace-0", "trace-1", "trace-2", "trace-3"])
    assert all(together == "4" for _, together in seen), "the four ran at the same time"
    visible = [devices for devices, _ in seen]
    assert sorted(visible) == sorted(UUIDS)
    assert executor.leases.held() == {}


def test_packed_runs_share_the_gpu_with_the_most_free_memory(tmp_path, fake_smi):
    used = (40000, 20000, 900, 60000)
    rows = [(*row[:4], mb, row[5]) for row, mb in zip(FOUR_GPUS, used, strict=True)]
    fake_smi.answer(rows)
    with make(tmp_path, fake_smi.path, policy="packed") as ex:
        seen = run_together(ex, tmp_path, ["trace-a", "trace-b"])
    assert [devices for devices, _ in seen] == [UUIDS[2], UUIDS[2]]


def test_a_trace_waits_for_a_gpu_rather_than_share_one(tmp_path, fake_smi):
    fake_smi.answer(FOUR_GPUS[:1])
    code = "import os, time\ntime.sleep(float(os.environ['HOLD']))\nprint(time.time())"
    with make(tmp_path, fake_smi.path) as ex:
        with ThreadPoolExecutor(2) as pool:
            first = pool.submit(run, ex, code, owner="trace-a", env={"HOLD": "0.8"})
            time.sleep(0.3)
            second = pool.submit(run, ex, code, owner="trace-b", env={"HOLD": "0"})
            a, b = first.result(), second.result()
        assert a.ok and b.ok, (a, b)
        assert float(b.stdout_tail) > float(a.stdout_tail), "trace-b ran only once a was done"
        assert a.gpu_devices == b.gpu_devices == (UUIDS[0],)
        # The wait is bounded by the run's time-out.
        with ThreadPoolExecutor(2) as pool:
            pool.submit(run, ex, code, owner="trace-a", env={"HOLD": "1.5"})
            time.sleep(0.3)
            late = run(ex, code, owner="trace-b", env={"HOLD": "0"}, limits=ResourceLimits(0.4))
        assert late.timed_out and late.outcome == "error" and not late.ok
        assert "no GPU came free" in late.error and "trace-a: 0" in late.error
        assert ex.leases.held() == {}


# The candidates below read the variable through WHICH: naming it would mark them as GPU code.
SHOW_DEVICES = """
import os, time
time.sleep(float(os.environ["HOLD"]))
print(time.time(), repr(os.environ.get(os.environ["WHICH"])))
"""
GPU_CODE_SHOWING_DEVICES = "# trains on cuda\n" + SHOW_DEVICES


def test_with_gpu_runs_gpu_code_a_cpu_candidate_neither_waits_nor_sees_a_gpu(tmp_path, fake_smi):
    fake_smi.answer(FOUR_GPUS[:1])
    env = {"WHICH": "CUDA_VISIBLE_DEVICES"}
    with make(tmp_path, fake_smi.path, gpu_runs="gpu-code") as ex:
        assert ex.hardware()["gpu_runs"] == "gpu-code"
        with ThreadPoolExecutor(2) as pool:
            gpu = pool.submit(
                run, ex, GPU_CODE_SHOWING_DEVICES, owner="trace-a", env={**env, "HOLD": "1.0"}
            )
            time.sleep(0.3)
            assert ex.leases.held() == {"trace-a": (0,)}
            cpu = run(ex, SHOW_DEVICES, owner="trace-b", env={**env, "HOLD": "0"})
            on_gpu = gpu.result()
        # trace-b ran while trace-a held the only GPU, and saw none.
        assert cpu.ok and on_gpu.ok, (cpu, on_gpu)
        cpu_done, cpu_sees = cpu.stdout_tail.split()
        gpu_done, gpu_sees = on_gpu.stdout_tail.split()
        assert float(cpu_done) < float(gpu_done)
        assert cpu_sees == "''" and cpu.gpu_devices == () and cpu.gpu_peak_memory_mb is None
        assert gpu_sees == repr(UUIDS[0]) and on_gpu.gpu_devices == (UUIDS[0],)
        note = next(n for n in cpu.notes if n.startswith("gpu:"))
        assert "ran on the CPU" in note and "uses no GPU" in note
        assert not any(n.startswith("gpu:") for n in on_gpu.notes)
        # A request that asks for a GPU gets one, whatever its code.
        asked = run(ex, SHOW_DEVICES, env={**env, "HOLD": "0"}, limits=ResourceLimits(gpus=1))
        assert asked.ok and asked.gpu_devices == (UUIDS[0],)
        assert ex.leases.held() == {}


def test_by_default_every_run_gets_a_gpu(executor):
    result = run(executor, SHOW_DEVICES, env={"WHICH": "CUDA_VISIBLE_DEVICES", "HOLD": "0"})
    assert result.ok and len(result.gpu_devices) == 1
    assert result.stdout_tail.split()[1] == repr(result.gpu_devices[0])


def test_cpu_candidates_run_under_gpu_code_where_there_is_no_gpu_at_all(tmp_path):
    with make(tmp_path, tmp_path / "no-driver" / "nvidia-smi", gpu_runs="gpu-code") as ex:
        cpu = run(ex, "print('ran')")
        gpu = run(ex, "import torch\nprint('never')")
    assert cpu.ok and cpu.stdout_tail.strip() == "ran"
    assert gpu.outcome == "error" and gpu.error.startswith("no NVIDIA driver")


@pytest.mark.parametrize(
    ("code", "gpu"),
    [
        ("import torch", True),
        ("from torch import nn", True),
        ("import numpy as np, tensorflow as tf", True),
        ("    from jax import numpy as jnp", True),
        ("import torchvision.models", True),
        ('model = XGBRegressor(device="cuda")', True),
        ('params = {"tree_method": "gpu_hist"}', True),
        ('CatBoostClassifier(task_type="GPU")', True),
        ("import numpy as np\nfrom sklearn.linear_model import Ridge", False),
        ("import jaxlib_helpers  # not jax", False),
        ("accuracy = 0.9  # regpu", False),
    ],
)
def test_uses_gpu_reads_imports_and_the_words_cuda_and_gpu(code, gpu):
    assert uses_gpu(Candidate.from_code("c", code)) is gpu


def test_uses_gpu_reads_every_file_and_takes_a_pattern_of_ones_own(tmp_path, fake_smi):
    helper = Candidate(id="c", files={"main.py": "import model", "model.py": "import torch"})
    assert uses_gpu(helper)
    mine = Candidate.from_code("c", "import my_accelerator")
    assert not uses_gpu(mine) and uses_gpu(mine, r"\bmy_accelerator\b")
    with make(tmp_path, fake_smi.path, gpu_runs="gpu-code", gpu_code_pattern=r"my_accel") as ex:
        assert len(run(ex, "import my_accelerator").gpu_devices) == 1
        # The pattern replaces the built-in one.
        assert run(ex, "if False:\n    import torch").gpu_devices == ()


def test_leases_come_back_after_a_time_out_a_kill_and_a_crash(executor, monkeypatch):
    slow = run(executor, "import time\ntime.sleep(30)", limits=ResourceLimits(timeout_s=0.5))
    assert slow.timed_out and slow.gpu_devices
    killed = run(executor, "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)")
    assert killed.outcome == "signal" and killed.gpu_devices
    assert executor.leases.held() == {}

    def broken(request):
        raise RuntimeError("a bug in the sandbox")

    monkeypatch.setattr(executor._local, "run", broken)
    with pytest.raises(RuntimeError, match="a bug in the sandbox"):
        run(executor, "print(1)")
    assert executor.leases.held() == {}


def test_cancel_ends_running_and_waiting_runs_and_returns_their_leases(tmp_path, fake_smi):
    fake_smi.answer(FOUR_GPUS[:1])
    code = "import time\nopen('working/started', 'w').close()\ntime.sleep(30)"
    with make(tmp_path, fake_smi.path) as ex, ThreadPoolExecutor(2) as pool:
        running = pool.submit(run, ex, code, owner="trace-a", limits=ResourceLimits(60))
        deadline = time.monotonic() + 10
        while not list((tmp_path / "ws").glob("*/working/started")):
            assert time.monotonic() < deadline, "the first candidate never started"
            time.sleep(0.02)
        waiting = pool.submit(run, ex, code, owner="trace-b", limits=ResourceLimits(60))
        time.sleep(0.3)
        assert set(ex.leases.held()) == {"trace-a"} and not waiting.done()
        ex.cancel()
        a, b = running.result(timeout=10), waiting.result(timeout=10)
        assert a.cancelled and b.cancelled and a.outcome == b.outcome == "cancelled"
        assert ex.leases.held() == {}
        later = run(ex, "import os\nprint(os.environ['CUDA_VISIBLE_DEVICES'])", owner="trace-b")
        assert later.ok and later.stdout_tail.strip() == UUIDS[0]


def test_device_ids_by_index_and_several_gpus_per_candidate(tmp_path, fake_smi):
    code = "import os\nprint(os.environ['CUDA_VISIBLE_DEVICES'], os.environ['CUDA_DEVICE_ORDER'])"
    with make(tmp_path, fake_smi.path, device_ids="index", gpus_per_candidate=2) as ex:
        two = run(ex, code)
        three = run(ex, code, limits=ResourceLimits(gpus=3))
        five = run(ex, code, limits=ResourceLimits(gpus=5))
    # The most free memory first: GPU 2 (300 MiB used), then 0 (500), then 1 (700).
    assert two.stdout_tail.split() == ["0,2", "PCI_BUS_ID"]
    assert three.stdout_tail.split() == ["0,1,2", "PCI_BUS_ID"]
    assert two.gpu_devices == (UUIDS[0], UUIDS[2])
    assert five.error and "asks for 5 GPU(s) but this machine has 4" in five.error


def test_the_trace_of_a_candidate_is_the_owner_of_its_runs():
    traced = Candidate.from_code("c", "", trace=2)
    assert ExecutionRequest(traced).owner == "trace-2"
    assert ExecutionRequest(Candidate.from_code("c", "")).owner == ""
    assert ExecutionRequest(traced, owner="final").owner == "final"


# --------------------------------------------------------------------------- telemetry


REPORT_FIGURES = """
import os, time
folder, mine = os.environ["FAKE_DRIVER"], os.environ["CUDA_VISIBLE_DEVICES"]
rows = [line.split(", ") for line in open(os.path.join(folder, "gpus.csv")).read().splitlines()]
def report(used, utilization):
    lines = [", ".join(r[:4] + [str(used), str(utilization)]) if r[1] == mine else ", ".join(r)
             for r in rows]
    with open(os.path.join(folder, "state.tmp"), "w") as fh:
        fh.write("\\n".join(lines) + "\\n")
    os.replace(os.path.join(folder, "state.tmp"), os.path.join(folder, "state.csv"))
report(30000, 90)
time.sleep(0.6)
report(12000, 30)
time.sleep(0.6)
"""


def test_telemetry_reports_peak_memory_and_mean_utilisation(executor, fake_smi):
    env = {"FAKE_DRIVER": str(fake_smi.folder)}
    result = run(executor, REPORT_FIGURES, owner="trace-t", env=env)
    assert result.ok, result
    assert result.gpu_devices == (UUIDS[2],), "the GPU with the most free memory"
    assert result.gpu_peak_memory_mb == 30000
    assert 30 < result.gpu_utilization < 90
    assert len(fake_smi.calls()) >= 8, "read about every 0.1 s"


def test_telemetry_can_be_turned_off(tmp_path, fake_smi):
    with make(tmp_path, fake_smi.path, telemetry_period_s=0) as ex:
        result = run(ex, "print('ok')")
    assert result.ok and result.gpu_devices == (UUIDS[2],)
    assert result.gpu_peak_memory_mb is None and result.gpu_utilization is None


def test_gpu_figures_reach_the_journal():
    result = ExecutionResult(
        exit_code=1,
        gpu_devices=(UUIDS[1],),
        gpu_peak_memory_mb=30000.0,
        gpu_utilization=61.5,
        gpu_out_of_memory=True,
    )
    data = to_data(result)
    assert data["gpu_devices"] == [UUIDS[1]] and data["gpu_peak_memory_mb"] == 30000.0
    assert data["gpu_utilization"] == 61.5 and data["gpu_out_of_memory"] is True
    assert from_data(data, ExecutionResult) == result
    assert from_data({"exit_code": 0}, ExecutionResult).gpu_devices == ()


# --------------------------------------------------------------------------- GPU out of memory


@pytest.mark.parametrize(
    "stderr",
    [
        "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 GiB",
        "torch.cuda.OutOfMemoryError: CUDA out of memory.",
        "RuntimeError: CUDA error: out of memory (CUDA_ERROR_OUT_OF_MEMORY)",
        "cudaErrorMemoryAllocation: out of memory",
        "XlaRuntimeError: RESOURCE_EXHAUSTED: Out of memory while trying to allocate 1.2GiB",
    ],
)
def test_cuda_out_of_memory_is_recognised(stderr):
    assert is_gpu_out_of_memory(ExecutionResult(exit_code=1, stderr_tail=stderr))
    assert not is_gpu_out_of_memory(ExecutionResult(exit_code=0, stderr_tail=stderr))
    cancelled = ExecutionResult(exit_code=None, cancelled=True, stderr_tail=stderr)
    assert not is_gpu_out_of_memory(cancelled)


def test_other_failures_are_not_gpu_out_of_memory():
    for stderr in ("MemoryError", "ValueError: bad shape", "Killed"):
        assert not is_gpu_out_of_memory(ExecutionResult(exit_code=1, stderr_tail=stderr))


def test_a_candidate_that_runs_out_of_gpu_memory_is_reported_so(executor):
    code = """
        import sys
        print("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 GiB "
              "(GPU 0; 79.15 GiB total capacity)", file=sys.stderr)
        sys.exit(1)
    """
    result = run(executor, code)
    assert result.gpu_out_of_memory and result.outcome == "gpu-oom" and not result.ok
    assert result.gpu_devices and executor.leases.held() == {}
    retried = "import sys\nprint('CUDA out of memory; retrying smaller', file=sys.stderr)"
    survived = run(executor, retried)
    assert survived.ok and not survived.gpu_out_of_memory


# --------------------------------------------------------------------------- without a GPU


def test_without_a_driver_runs_fail_with_a_message_saying_what_to_do(tmp_path):
    with make(tmp_path, tmp_path / "no-driver" / "nvidia-smi") as ex:
        result = run(ex, "print('never')")
        assert ex.hardware()["gpus"] == 0 and "no NVIDIA driver" in ex.hardware()["gpu_note"]
    assert result.outcome == "error" and "never" not in result.stdout_tail
    assert result.error.startswith("no NVIDIA driver") and "on_no_gpu = 'cpu'" in result.error


def test_without_a_gpu_runs_can_fall_back_to_the_cpu(tmp_path, fake_smi):
    fake_smi.fail("No devices were found", exit_code=6)
    code = "import os\nprint(repr(os.environ['CUDA_VISIBLE_DEVICES']))"
    with make(tmp_path, fake_smi.path, on_no_gpu="cpu") as ex:
        result = run(ex, code, env={"CUDA_VISIBLE_DEVICES": "0"})
    assert result.ok and result.stdout_tail.strip() == "''"
    assert result.gpu_devices == () and result.gpu_peak_memory_mb is None
    note = next(n for n in result.notes if n.startswith("gpu:"))
    assert "ran on the CPU" in note and "no GPU" in note


def test_hardware_states_the_gpus_a_candidate_gets(tmp_path, fake_smi):
    with make(tmp_path, fake_smi.path, gpus_per_candidate=2, policy="packed") as ex:
        facts = ex.hardware()
    assert facts["gpus"] == 2 and facts["gpus_on_machine"] == 4
    assert facts["gpu_model"] == "NVIDIA A100-SXM4-80GB" and facts["gpu_memory_mb"] == 81920
    assert facts["gpu_policy"] == "packed" and facts["cpus"] >= 1


# --------------------------------------------------------------------------- configuration


def test_the_executor_is_chosen_and_configured_by_name():
    resolved = resolve(
        overrides=[
            "executor=cuda",
            "executor.on_no_gpu=cpu",
            "executor.policy=packed",
            "executor.timeout_s=600",
        ]
    )
    spec = resolved.config.executor
    assert spec.name == "cuda" and isinstance(spec.config, CudaExecutorConfig)
    assert attrs.asdict(spec.config) == attrs.asdict(
        CudaExecutorConfig(on_no_gpu="cpu", policy="packed", timeout_s=600.0)
    )
    executor = spec.create(resolved.registry)
    try:
        assert isinstance(executor, CudaExecutor) and executor.config.policy == "packed"
    finally:
        executor.close()
    with pytest.raises(ConfigError, match=r"\$\.executor: invalid value: policy must be one of"):
        resolve(overrides=["executor=cuda", "executor.policy=shared"])
    with pytest.raises(ConfigError, match=r"gpu_code_pattern is not a regular expression"):
        resolve(overrides=["executor=cuda", "executor.gpu_code_pattern=(torch"])


def test_the_sandbox_takes_its_settings_from_the_same_config(tmp_path, fake_smi):
    with make(tmp_path, fake_smi.path, output_cap_bytes=1000, threads=3) as ex:
        result = run(ex, "import os\nprint(os.environ['OMP_NUM_THREADS'])\nprint('x' * 5000)")
    assert result.output_cap_bytes == 1000 and result.output_truncated
    assert os.path.commonpath([result.workspace, tmp_path / "ws"]) == str(tmp_path / "ws")


def test_a_closed_executor_refuses_runs(tmp_path, fake_smi):
    ex = make(tmp_path, fake_smi.path)
    ex.close()
    result = run(ex, "print(1)")
    assert result.cancelled and result.error == "executor closed"
    assert fake_smi.calls() == [], "a closed executor reads no GPU"


def test_gome_config_show_resolves_the_cuda_executor(gome):
    done = gome("config", "show", "--set", "executor=cuda", "--set", "executor.on_no_gpu=cpu")
    assert done.returncode == 0, done.stderr
    assert 'name = "cuda"' in done.stdout and 'on_no_gpu = "cpu"' in done.stdout


def test_the_scaling_guide_examples_run(capsys):
    guide = Path(__file__).resolve().parents[2] / "docs" / "scaling.md"
    blocks = re.findall(r"```python\n(.*?)```", guide.read_text(), flags=re.S)
    assert len(blocks) == 2
    for block in blocks:
        exec(compile(block, "scaling.md", "exec"), {})
    printed = capsys.readouterr().out
    assert "'gpus':" in printed and "'cpus':" in printed
