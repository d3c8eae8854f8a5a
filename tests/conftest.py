from __future__ import annotations

import contextlib
import importlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_PLUGIN = ROOT / "docs" / "examples" / "gome-runtime-limit"
EXAMPLE_EXECUTOR = ROOT / "docs" / "examples" / "gome-venv-executor"


def run_gome(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the real `gome` command line in a subprocess."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "gome_core.cli", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=timeout,
    )


#: Session fixtures that cost seconds to build. Under pytest-xdist the tests sharing one run on
#: one worker, so each is built once (and only one Ray instance starts on a small machine).
_SHARED_FIXTURES = {
    "ray_instance": "ray",
    "report_runs": "report-runs",
    "prepared_bundled": "bundled-competitions",
}


def pytest_configure(config: pytest.Config) -> None:
    # Registered here too, so the marker is known when pytest-xdist is not installed.
    config.addinivalue_line("markers", "xdist_group(name): run on the same xdist worker")


#: Set (to anything but "0") where every optional part is installed, as in CI: a test that would
#: skip for a missing part (Ray, MLflow, Chromium, pyarrow, a namespace) fails instead, so a
#: broken install cannot pass as a green suite. GPU tests still skip where there is no GPU.
STRICT_SKIPS = "GOME_TESTS_NO_SKIPS"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    report = yield
    strict = os.environ.get(STRICT_SKIPS, "0") not in ("", "0")
    if strict and report.skipped and not hasattr(report, "wasxfail"):
        if item.get_closest_marker("gpu") is None:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
            reason = str(reason).removeprefix("Skipped: ")
            report.outcome = "failed"
            report.longrepr = f"skipped, but {STRICT_SKIPS} forbids skips: {reason}"
    return report


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        shared = [group for name, group in _SHARED_FIXTURES.items() if name in item.fixturenames]
        if shared:
            item.add_marker(pytest.mark.xdist_group(shared[0]))


@pytest.fixture
def gome():
    return run_gome


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A folder on ``sys.path`` for this test, to install plugin distributions into."""
    path = tmp_path / "site"
    path.mkdir()
    monkeypatch.syspath_prepend(str(path))
    return path


@pytest.fixture(scope="session")
def prepared_bundled(tmp_path_factory):
    """A store with every bundled competition prepared, once per test session (slow tests only:
    preparing all nine takes a while)."""
    from gome_core.competitions import BUNDLED_DIR, CompetitionStore

    store = CompetitionStore((BUNDLED_DIR,), tmp_path_factory.mktemp("bundled-data"))
    store.prepare_many()
    return store


@contextlib.contextmanager
def import_example(example: Path, module: str) -> Iterator[ModuleType]:
    """Import an example plugin's module straight from its folder, as its own tests would."""
    sys.path.insert(0, str(example))
    try:
        yield importlib.import_module(module)
    finally:
        sys.path.remove(str(example))


def pip_install_example(example: Path, target: Path) -> Path:
    """Install an example plugin as its own distribution into ``target`` (offline, no deps)."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--target",
            str(target),
            str(example),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return target


def run_example_tests(example: Path) -> subprocess.CompletedProcess[str]:
    """Run an example plugin's own test suite, as its author would, in a fresh interpreter."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(example / "tests")],
        capture_output=True,
        text=True,
        cwd=example,
        timeout=300,
    )


@pytest.fixture
def cuda_executor(tmp_path):
    """The real ``cuda`` executor on this machine's GPUs; skips the test where there is none."""
    import shutil

    if shutil.which("nvidia-smi") is None:
        pytest.skip("no NVIDIA driver on this machine")
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch sees no CUDA device")
    from gome_cuda import CudaExecutor, CudaExecutorConfig

    config = CudaExecutorConfig(
        workspace_root=str(tmp_path / "ws"), kill_grace_s=2.0, telemetry_period_s=0.1
    )
    with CudaExecutor(config) as executor:
        yield executor


@pytest.fixture(autouse=True)
def _no_outside_tracking(monkeypatch):
    """A developer's own MLflow settings must not make every test log to their server."""
    for name in list(os.environ):
        if name == "MLFLOW_TRACKING_URI" or name.startswith("GOME_MLFLOW_"):
            monkeypatch.delenv(name)
