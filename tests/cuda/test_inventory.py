"""Reading the GPUs: a fake nvidia-smi and a fake NVML module stand in for the driver."""

import subprocess
import sys
import types

import pytest
from gome_cuda.inventory import NoGpuError, NvidiaSmiInventory, NvmlInventory, open_inventory

from .conftest import FOUR_GPUS, UUIDS


def test_nvidia_smi_reports_every_gpu_with_its_figures(fake_smi):
    devices = NvidiaSmiInventory(str(fake_smi.path)).devices()
    assert [d.index for d in devices] == [0, 1, 2, 3]
    assert [d.uuid for d in devices] == UUIDS
    assert {d.name for d in devices} == {"NVIDIA A100-SXM4-80GB"}
    assert devices[2].memory_total_mb == 81920 and devices[2].memory_used_mb == 300
    assert devices[2].memory_free_mb == 81920 - 300 and devices[2].utilization == 10
    assert len(fake_smi.calls()) == 1


def test_figures_a_device_does_not_report_are_none(fake_smi):
    fake_smi.answer([(0, UUIDS[0], "Tesla T4", 15360, 0, "[N/A]")])
    (device,) = NvidiaSmiInventory(str(fake_smi.path)).devices()
    assert device.utilization is None and device.memory_total_mb == 15360


def test_a_command_on_the_path_is_found(fake_smi, monkeypatch):
    monkeypatch.setenv("PATH", f"{fake_smi.folder}:/usr/bin:/bin")
    assert len(NvidiaSmiInventory().devices()) == 4


def test_no_driver_says_so_and_what_to_do(tmp_path):
    with pytest.raises(NoGpuError) as missing:
        NvidiaSmiInventory(str(tmp_path / "no-driver" / "nvidia-smi")).devices()
    message = str(missing.value)
    assert message.startswith("no NVIDIA driver") and "on_no_gpu = 'cpu'" in message


def test_a_driver_that_does_not_answer_says_so(fake_smi):
    fake_smi.fail(
        "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. "
        "Make sure that the latest NVIDIA driver is installed and running.",
        exit_code=9,
    )
    with pytest.raises(NoGpuError, match="no usable NVIDIA driver.*couldn't communicate"):
        NvidiaSmiInventory(str(fake_smi.path)).devices()


def test_no_device_says_so(fake_smi):
    fake_smi.fail("No devices were found", exit_code=6)
    with pytest.raises(NoGpuError, match="^no GPU: the NVIDIA driver is installed"):
        NvidiaSmiInventory(str(fake_smi.path)).devices()
    fake_smi.answer([])
    with pytest.raises(NoGpuError, match="^no GPU"):
        NvidiaSmiInventory(str(fake_smi.path)).devices()


def test_output_that_is_not_the_query_is_an_error(fake_smi):
    fake_smi.fail("0, GPU-x, only three fields", exit_code=0)
    with pytest.raises(NoGpuError, match="unexpected nvidia-smi output"):
        NvidiaSmiInventory(str(fake_smi.path)).devices()


# --------------------------------------------------------------------------- NVML


class _NvmlError(Exception):
    pass


def fake_pynvml(rows, *, init_error=None):
    """A module with the few pynvml functions the inventory calls, answering ``rows``."""
    state = {"shut": False}

    def init():
        if init_error:
            raise _NvmlError(init_error)

    def handle(index):
        return rows[index]

    def utilization(row):
        if row[5] is None:
            raise _NvmlError("Not Supported")
        return types.SimpleNamespace(gpu=row[5])

    module = types.SimpleNamespace(
        NVMLError=_NvmlError,
        nvmlInit=init,
        nvmlShutdown=lambda: state.update(shut=True),
        nvmlDeviceGetCount=lambda: len(rows),
        nvmlDeviceGetHandleByIndex=handle,
        nvmlDeviceGetUUID=lambda row: row[1],
        nvmlDeviceGetName=lambda row: row[2].encode(),  # older versions answer bytes
        nvmlDeviceGetMemoryInfo=lambda row: types.SimpleNamespace(
            total=row[3] * 2**20, used=row[4] * 2**20
        ),
        nvmlDeviceGetUtilizationRates=utilization,
    )
    module.state = state
    return module


def test_nvml_reports_the_same_figures(monkeypatch):
    rows = [*FOUR_GPUS[:3], (3, UUIDS[3], "NVIDIA A100 MIG 1g.10gb", 9728, 13, None)]
    module = fake_pynvml(rows)
    monkeypatch.setitem(sys.modules, "pynvml", module)
    nvml = NvmlInventory()
    devices = nvml.devices()
    assert [d.uuid for d in devices] == UUIDS
    assert devices[0].name == "NVIDIA A100-SXM4-80GB" and devices[1].memory_used_mb == 700
    assert devices[2].utilization == 10 and devices[3].utilization is None
    nvml.close()
    assert module.state["shut"]


def test_auto_uses_nvml_when_it_sees_gpus(monkeypatch, fake_smi):
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml(FOUR_GPUS[:2]))
    chosen = open_inventory("auto", str(fake_smi.path))
    assert chosen.source == "nvml" and len(chosen.devices()) == 2
    assert fake_smi.calls() == []


def test_auto_falls_back_to_nvidia_smi_when_nvml_cannot_start(monkeypatch, fake_smi):
    module = fake_pynvml([], init_error="NVML Shared Library Not Found")
    monkeypatch.setitem(sys.modules, "pynvml", module)
    chosen = open_inventory("auto", str(fake_smi.path))
    assert chosen.source == "nvidia-smi" and len(chosen.devices()) == 4
    with pytest.raises(NoGpuError, match="no usable NVIDIA driver: NVML could not start"):
        open_inventory("nvml")


def test_auto_without_any_driver_says_so(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # the package is not installed
    with pytest.raises(NoGpuError, match="^no NVIDIA driver"):
        open_inventory("auto", str(tmp_path / "nvidia-smi"))
    with pytest.raises(NoGpuError, match="nvidia-ml-py package is not installed"):
        open_inventory("nvml")


def test_loading_the_plugin_reads_no_gpu_and_imports_no_nvml():
    code = (
        "import sys\n"
        "from gome_core.plugins import load_plugins\n"
        "registry = load_plugins(env={})\n"
        "executor = registry.create('executor', 'cuda')\n"
        "print(type(executor).__name__, 'pynvml' in sys.modules, 'torch' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["CudaExecutor", "False", "False"]
