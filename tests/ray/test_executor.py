"""The Ray executor on a local Ray instance: the executor conformance suite, and what is its own
(files shipped to workers that cannot see the caller's paths, resources, configuration)."""

from __future__ import annotations

import json
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from gome_ray import RayExecutor, RayExecutorConfig
from gome_ray.session import RaySession

from gome_core import Candidate, ExecutionRequest, ResourceLimits
from gome_core.config import resolve
from gome_core.errors import ConfigError
from gome_core.executors.local import LocalExecutorConfig
from gome_core.testing import ExecutorSuite

pytestmark = pytest.mark.ray


def make(tmp_path: Path, *, keep_workspaces: bool = False, **settings: object) -> RayExecutor:
    sandbox = LocalExecutorConfig(
        workspace_root=str(tmp_path / "ws"), kill_grace_s=0.5, keep_workspaces=keep_workspaces
    )
    settings.setdefault("cancel_grace_s", 5.0)
    return RayExecutor(RayExecutorConfig(sandbox=sandbox, **settings))  # type: ignore[arg-type]


def run(executor: RayExecutor, code: str, **kwargs: object):
    candidate = Candidate.from_code(str(kwargs.pop("id", "c")), textwrap.dedent(code))
    return executor.run(ExecutionRequest(candidate, **kwargs))  # type: ignore[arg-type]


class TestRayExecutor(ExecutorSuite):
    """The suite, with the workers on this machine: workspaces are made in the caller's root."""

    @pytest.fixture
    def executor(self, ray_instance, tmp_path):
        with make(tmp_path) as ex:
            yield ex


class TestRayExecutorShipping(ExecutorSuite):
    """The suite with every file shipped, as to workers that cannot see the caller's paths; the
    candidates' processes end on the worker (checked by a test below, by their process ids)."""

    observes_processes = False

    @pytest.fixture
    def executor(self, ray_instance, tmp_path):
        with make(tmp_path, transfer="ship", worker_root=str(tmp_path / "worker")) as ex:
            yield ex


@pytest.fixture
def public_dir(tmp_path: Path) -> Path:
    public = tmp_path / "public"
    (public / "images").mkdir(parents=True)
    (public / "train.csv").write_text("id,y\n1,0\n2,1\n")
    (public / "images" / "a.txt").write_text("pixels\n")
    return public


READ_INPUT_AND_SUBMIT = """
    import os
    rows = open("input/train.csv").read().splitlines()
    try:
        open("input/train.csv", "w").write("changed")
        wrote = "wrote"
    except OSError:
        wrote = "refused"
    open("submission/submission.csv", "w").write("id,y\\n3,1\\n")
    open("scores.csv", "w").write("model,acc\\nensemble,0.75\\n")
    open("working/scratch.bin", "w").write("scratch")
    print(len(rows), open("input/images/a.txt").read().strip(), wrote, os.getcwd())
"""


def test_workers_on_this_machine_use_the_callers_paths(ray_instance, tmp_path, public_dir):
    with make(tmp_path) as executor:
        result = run(executor, READ_INPUT_AND_SUBMIT, input_dir=public_dir)
        assert result.ok, result
        assert executor._archives == {}, "the input was shipped though the worker could see it"
        workspace = Path(result.workspace)
        assert (workspace / "working" / "scratch.bin").exists()
    assert workspace.parent == (tmp_path / "ws").resolve()
    count, image, wrote, cwd = result.stdout_tail.split()
    assert (count, image, wrote) == ("3", "pixels", "refused")
    assert Path(cwd) == workspace  # the candidate ran right in the caller's workspace
    assert (public_dir / "train.csv").read_text() == "id,y\n1,0\n2,1\n"


def test_shipped_files_travel_both_ways_and_the_input_goes_once(ray_instance, tmp_path, public_dir):
    worker_root = tmp_path / "worker"
    # The outputs are looked at once the executor has closed: keep them.
    with make(
        tmp_path, transfer="ship", worker_root=str(worker_root), keep_workspaces=True
    ) as executor:
        results = [run(executor, READ_INPUT_AND_SUBMIT, input_dir=public_dir) for _ in range(2)]
        assert len(executor._archives) == 1
    for result in results:
        assert result.ok, result
        count, image, wrote, cwd = result.stdout_tail.split()
        assert (count, image, wrote) == ("3", "pixels", "refused")
        workspace = Path(result.workspace)
        # The candidate ran in the worker's own workspace; its outputs came back to the caller's.
        assert Path(cwd).is_relative_to(worker_root) and workspace.parent == tmp_path / "ws"
        assert (workspace / "submission" / "submission.csv").read_text() == "id,y\n3,1\n"
        assert (workspace / "scores.csv").read_text() == "model,acc\nensemble,0.75\n"
        assert (workspace / "main.py").exists() and (workspace / "input").is_dir()
        assert not (workspace / "working" / "scratch.bin").exists()  # scratch stays behind
        assert result.produced == ("submission/submission.csv", "scores.csv")
    assert results[0].workspace != results[1].workspace
    # One unpacked copy of the input on the worker's machine, unchanged; no workspace left there.
    cached = [p for p in (worker_root / "inputs").iterdir() if p.is_dir()]
    assert len(cached) == 1 and (cached[0] / "train.csv").read_text() == "id,y\n1,0\n2,1\n"
    assert list((worker_root / "workspaces").iterdir()) == []


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"  # a zombie has ended; it only waits to be reaped


def test_a_shipped_run_leaves_no_process_behind_on_the_worker(ray_instance, tmp_path):
    code = """
        import subprocess, sys, time
        escaped = subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True
        )
        print(escaped.pid, flush=True)
        time.sleep(60)
    """
    with make(tmp_path, transfer="ship", worker_root=str(tmp_path / "worker")) as executor:
        result = run(executor, code, limits=ResourceLimits(timeout_s=2.0))
    assert result.timed_out, result
    pid = int(result.stdout_tail.split()[0])
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(pid), "a process the candidate started outlived its run on the worker"


def test_a_worker_that_cannot_see_the_input_gets_it_shipped(ray_instance, tmp_path, public_dir):
    with make(tmp_path, worker_root=str(tmp_path / "worker")) as executor:
        executor._digests[str(public_dir.resolve())] = "not-what-the-worker-sees"
        result = run(executor, READ_INPUT_AND_SUBMIT, input_dir=public_dir)
        assert result.ok, result
        assert list(executor._archives) == [str(public_dir.resolve())]
    assert result.stdout_tail.split()[:2] == ["3", "pixels"]
    assert (tmp_path / "worker" / "inputs" / "not-what-the-worker-sees").is_dir()


def test_cpus_are_reserved_and_set_the_thread_caps(ray_instance, tmp_path):
    code = """
        import json, os, time
        start = time.time()
        time.sleep(0.8)
        print(json.dumps([start, time.time(), os.environ["OMP_NUM_THREADS"]]))
    """
    with make(tmp_path, num_cpus=2) as executor, ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: run(executor, code), range(2)))
    spans = sorted(json.loads(r.stdout_tail)[:2] for r in results)
    assert all(json.loads(r.stdout_tail)[2] == "2" for r in results)
    # Each holds both CPUs of the instance, so they ran one after the other.
    assert spans[0][1] <= spans[1][0] + 0.05, spans


def test_cancel_also_ends_tasks_still_waiting_for_resources(ray_instance, tmp_path):
    code = "import time\nopen('working/started', 'w').write('x')\ntime.sleep(60)"
    with make(tmp_path, num_cpus=2, keep_workspaces=True) as executor:
        results: dict[str, object] = {}
        threads = [
            threading.Thread(target=lambda n=name: results.update({n: run(executor, code, id=n)}))
            for name in ("first", "queued")
        ]
        threads[0].start()
        # A busy machine starts Ray workers slowly: wait for the first candidate to be running.
        deadline = time.monotonic() + 120
        while not any((tmp_path / "ws").rglob("started")) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert any((tmp_path / "ws").rglob("started")), "the first candidate never started"
        threads[1].start()
        time.sleep(1.0)  # the second now waits for the CPUs the first holds
        executor.cancel()
        for thread in threads:
            thread.join(timeout=60)  # a hang guard: the first would run a minute, if not ended
        assert not any(thread.is_alive() for thread in threads)
    running, queued = results["first"], results["queued"]
    assert running.cancelled and queued.cancelled, (running, queued)
    assert (Path(running.workspace) / "working" / "started").exists()
    assert queued.workspace is None  # it never ran


def test_hardware_reports_the_reservation_and_the_cluster(ray_instance, tmp_path):
    with make(tmp_path, num_cpus=1.5) as executor:
        facts = executor.hardware()
    assert facts["cpus"] == 1.5 and facts["cluster_cpus"] == 2 and facts["nodes"] == 1


def test_an_instance_the_process_already_has_is_left_running(ray_instance):
    session = RaySession(address=None, local_num_cpus=None)
    assert session.ray() is ray_instance and not session.owned
    session.shutdown()
    assert ray_instance.is_initialized()


def test_the_config_structures_from_gome_settings():
    resolved = resolve(
        overrides=[
            "executor=ray",
            "executor.address=auto",
            "executor.num_cpus=4",
            "executor.sandbox.timeout_s=30",
            "executor.sandbox.network=true",
        ]
    )
    config = resolved.config.executor.config
    assert isinstance(config, RayExecutorConfig) and config.address == "auto"
    assert config.num_cpus == 4 and config.sandbox.timeout_s == 30 and config.sandbox.network
    with pytest.raises(ConfigError, match="transfer"):
        resolve(overrides=["executor=ray", "executor.transfer=rsync"])
    with pytest.raises(ConfigError, match="sandbox.timeout_s"):
        resolve(overrides=["executor=ray", "executor.sandbox.timeout_s=soon"])


def test_requests_for_missing_resources_fail_clearly(ray_instance, tmp_path):
    with make(tmp_path) as executor:
        result = run(executor, "print(1)", limits=ResourceLimits(gpus=1))
    assert result.error and "GPU" in result.error and result.outcome == "error"


def test_a_requests_own_memory_limit_is_what_it_reserves(ray_instance, tmp_path):
    # The executor's reservation would fit; the request asks for a petabyte, which no node has.
    with make(tmp_path, memory_mb=100) as executor:
        result = run(executor, "print(1)", limits=ResourceLimits(memory_mb=10**9))
    assert result.outcome == "error" and "memory" in result.error
