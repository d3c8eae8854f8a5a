"""The local executor: the executor conformance suite (with every isolation feature this machine
permits, and again with none), plus what is specific to it."""

import contextlib
import os
import socket
import subprocess
import sys
import textwrap
import threading

import pytest

from gome_core import Candidate, ExecutionRequest, ResourceLimits
from gome_core.contract import check_file_names
from gome_core.executors.local import LocalExecutor, LocalExecutorConfig, scrubbed_environment
from gome_core.executors.sandbox import Isolation, probe
from gome_core.testing import ExecutorSuite

ISO = probe()


def bare_isolation() -> Isolation:
    """What a machine without cgroups, namespaces or capabilities offers."""
    return Isolation(shell=ISO.shell, rlimit=ISO.rlimit, proc_environ=ISO.proc_environ)


def make(tmp_path, isolation=None, **settings):
    settings.setdefault("workspace_root", str(tmp_path / "ws"))
    settings.setdefault("kill_grace_s", 0.5)
    return LocalExecutor(LocalExecutorConfig(**settings), isolation=isolation)


class TestLocalExecutor(ExecutorSuite):
    @pytest.fixture
    def executor(self, tmp_path):
        with make(tmp_path) as ex:
            yield ex


class TestLocalExecutorWithoutIsolation(ExecutorSuite):
    """The fallbacks: input copied, memory by rlimit, the tree found by its environment marker."""

    @pytest.fixture
    def executor(self, tmp_path):
        with make(tmp_path, isolation=bare_isolation()) as ex:
            yield ex


@pytest.fixture
def executor(tmp_path):
    with make(tmp_path) as ex:
        yield ex


def _run(executor, code, **kwargs):
    candidate = Candidate.from_code(kwargs.pop("id", "c"), textwrap.dedent(code))
    return executor.run(ExecutionRequest(candidate, **kwargs))


def test_secret_looking_extras_are_refused(executor):
    with pytest.raises(ValueError, match="looks like a secret"):
        scrubbed_environment(os.environ, {"ANTHROPIC_API_KEY": "x"})
    result = _run(executor, "print(1)", env={"MY_TOKEN": "x"})
    assert result.error and "looks like a secret" in result.error


def test_fallbacks_are_stated_in_the_notes(tmp_path):
    public = tmp_path / "public"
    public.mkdir()
    (public / "train.csv").write_text("a\n")
    with make(tmp_path, isolation=bare_isolation()) as ex:
        limits = ResourceLimits(memory_mb=512)
        code = "print(open('input/train.csv').read())"
        result = _run(ex, code, input_dir=public, limits=limits)
        assert ex.isolation()["network"] == "not isolated"
        assert result.ok, result
        assert {"network", "input", "tree", "memory"} <= {n.split(":")[0] for n in result.notes}
        assert not any((result.workspace / "input").iterdir()), "the input copy is removed"


def test_mount_mode_without_a_mount_namespace_is_an_error(tmp_path):
    public = tmp_path / "public"
    public.mkdir()
    with make(tmp_path, isolation=bare_isolation(), input_mode="mount") as ex:
        result = _run(ex, "print(1)", input_dir=public)
    assert result.outcome == "error" and "mount namespace" in result.error


def test_copy_mode_protects_the_originals(tmp_path):
    public = tmp_path / "public"
    public.mkdir()
    (public / "train.csv").write_text("original")
    with make(tmp_path, input_mode="copy") as ex:
        code = """
            import os
            try:
                open("input/train.csv", "w").write("changed")
            except OSError as exc:
                print("refused", exc)
            print(os.listdir("input"))
        """
        result = _run(ex, code, input_dir=public)
    assert result.ok and "train.csv" in result.stdout_tail
    assert (public / "train.csv").read_text() == "original"


def _server():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)

    def serve():
        with contextlib.suppress(OSError):  # closed at the end of the test
            while True:
                server.accept()[0].close()

    threading.Thread(target=serve, daemon=True).start()
    return server


CONNECT = """
    import socket, sys
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2).close()
        print("connected")
    except OSError as exc:
        print("no network:", exc)
"""


@pytest.mark.skipif(not ISO.network_namespace, reason="no network namespace here")
def test_network_is_off_unless_allowed(tmp_path):
    server = _server()
    port = str(server.getsockname()[1])
    try:
        with make(tmp_path) as ex:
            cut = _run(ex, CONNECT, command=(sys.executable, "main.py", port))
        with make(tmp_path, network=True) as ex:
            allowed = _run(ex, CONNECT, command=(sys.executable, "main.py", port))
    finally:
        server.close()
    assert cut.ok and "no network" in cut.stdout_tail
    assert not any(n.startswith("network:") for n in cut.notes)
    assert allowed.ok and "connected" in allowed.stdout_tail


@pytest.mark.skipif(not ISO.ip, reason="no `ip` to bring loopback up here")
def test_loopback_works_inside_the_network_namespace(executor):
    code = """
        import socket
        server = socket.socket(); server.bind(("127.0.0.1", 0)); server.listen(1)
        socket.create_connection(server.getsockname(), timeout=2).close()
        print("loopback ok")
    """
    result = _run(executor, code)
    assert result.ok and "loopback ok" in result.stdout_tail, result


@pytest.mark.skipif(
    not (ISO.mount_namespace and ISO.setpriv and os.geteuid() == 0),
    reason="needs root, a mount namespace and setpriv",
)
def test_a_root_candidate_cannot_undo_its_sandbox(tmp_path):
    public = tmp_path / "competition" / "public"
    public.mkdir(parents=True)
    (public / "train.csv").write_text("original")
    private = tmp_path / "competition" / "private"
    private.mkdir()
    (private / "answers.csv").write_text("secret answers")
    code = f"""
        import os, subprocess
        def sh(cmd):
            done = subprocess.run(cmd, shell=True, capture_output=True, text=True)
            print(cmd.split()[0], "rc", done.returncode)
        sh("mount -o remount,rw,bind input")
        sh("umount input")
        sh("nsenter --net=/proc/1/ns/net true")
        for path in ("input/train.csv", {str(public / "train.csv")!r}):
            try:
                open(path, "w").write("changed")
                print("wrote", path)
            except OSError as exc:
                print("refused", exc.strerror)
        print("cgroups", os.listdir("/sys/fs/cgroup/unified") if os.path.isdir(
            "/sys/fs/cgroup/unified") else "absent")
        try:
            print("private", open({str(private / "answers.csv")!r}).read())
        except OSError as exc:
            print("private refused", exc.strerror)
    """
    with make(tmp_path, hide_paths=(str(private),)) as ex:
        result = _run(ex, code, input_dir=public)
    out = result.stdout_tail
    assert result.ok, result
    assert "mount rc 0" not in out and "umount rc 0" not in out and "nsenter rc 0" not in out
    assert "wrote" not in out and out.count("refused Read-only file system") == 2
    assert "cgroups []" in out or "cgroups absent" in out
    assert "secret answers" not in out
    assert (public / "train.csv").read_text() == "original"


def test_thread_caps_follow_the_cpu_share(tmp_path):
    code = "import os; print(os.environ['OMP_NUM_THREADS'], os.environ['MKL_NUM_THREADS'])"
    with make(tmp_path) as ex:
        assert _run(ex, code, limits=ResourceLimits(cpus=2)).stdout_tail.split() == ["2", "2"]
    with make(tmp_path, threads=3) as ex:
        assert _run(ex, code).stdout_tail.split() == ["3", "3"]


def test_the_interpreter_is_configurable(tmp_path):
    env_bin = tmp_path / "my-env" / "bin"
    env_bin.mkdir(parents=True)
    python = env_bin / "python"
    python.write_text(f'#!/bin/sh\necho "my interpreter"\nexec {sys.executable} "$@"\n')
    python.chmod(0o755)
    code = "import shutil; print('python on PATH:', shutil.which('python'))"
    with make(tmp_path, python=str(python)) as ex:
        result = _run(ex, code)
    assert result.ok, result
    assert "my interpreter" in result.stdout_tail
    assert f"python on PATH: {python}" in result.stdout_tail


def test_a_full_disk_is_an_error_and_the_run_goes_on(tmp_path, monkeypatch):
    import pathlib

    real = pathlib.Path.write_text

    def full(self, text, *args, **kwargs):
        if len(text) > 1000:
            raise OSError(28, "No space left on device")
        return real(self, text, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "write_text", full)
    with make(tmp_path) as ex:
        big = ex.run(ExecutionRequest(Candidate("big", {"main.py": "#" * 5000})))
        small = _run(ex, "print('fine')")
    assert big.outcome == "error" and "No space left on device" in big.error
    assert not list((tmp_path / "ws").glob("big-*")), "the partial workspace is removed"
    assert small.ok and "fine" in small.stdout_tail


@pytest.mark.skipif(not ISO.mount_namespace or os.geteuid() != 0, reason="needs a mount namespace")
def test_a_really_full_disk_is_an_error(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    script = textwrap.dedent(
        f"""
        from gome_core import Candidate, ExecutionRequest
        from gome_core.executors.local import LocalExecutor, LocalExecutorConfig
        with LocalExecutor(LocalExecutorConfig(workspace_root={str(disk)!r})) as ex:
            big = ex.run(ExecutionRequest(Candidate("big", {{"main.py": "#" * 200_000}})))
            small = ex.run(ExecutionRequest(Candidate.from_code("small", "print('fine')")))
        print(big.error)
        print(small.outcome, small.stdout_tail.strip())
        """
    )
    done = subprocess.run(
        [
            ISO.unshare,
            "--mount",
            "sh",
            "-c",
            f'mount -t tmpfs -o size=64k tmpfs {disk} && exec "$@"',
            "sh",
            sys.executable,
            "-c",
            script,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "No space left on device" in done.stdout and "ok fine" in done.stdout, done.stdout


def test_candidate_files_cannot_escape_the_workspace(executor):
    for files in (
        {"../evil.py": "", "main.py": ""},
        {"/etc/evil": "", "main.py": ""},
        {"input/train.csv": "", "main.py": ""},
    ):
        result = executor.run(ExecutionRequest(Candidate("c", files)))
        assert result.outcome == "error", files
    odd = executor.run(ExecutionRequest(Candidate.from_code("../../odd id/", "print(1)")))
    assert odd.ok and odd.workspace.parent == executor._root


def test_closed_executors_refuse_runs_and_remove_workspaces_unless_kept(tmp_path):
    ex = make(tmp_path)
    first = _run(ex, "print(1)")
    assert first.workspace.exists()
    ex.close()
    assert not first.workspace.exists()
    assert _run(ex, "print(1)").error == "executor closed"

    kept = make(tmp_path, keep_workspaces=True)
    second = _run(kept, "print(2)")
    kept.close()
    assert second.workspace.exists()
    # An executor removes only its own workspaces from a root it shares with another.
    third = make(tmp_path)
    _run(third, "print(3)")
    third.close()
    assert second.workspace.exists()


def test_isolation_is_described():
    described = LocalExecutor().isolation()
    assert {"process tree", "memory cap", "network", "input"} <= set(described)


@pytest.mark.skipif(not ISO.tracks_tree, reason="no writable cgroup here")
def test_cgroups_are_removed_also_after_orphans(tmp_path):
    import glob
    import time

    from gome_core.executors import sandbox

    code = """
        import os, time
        if os.fork() == 0:
            time.sleep(60)
        print("leaving a child behind")
    """
    with make(tmp_path) as ex:
        assert _run(ex, code).ok
        ident = ex._id
    # A killed orphan holds its cgroup until init reaps it; the sweep removes it afterwards.
    deadline = time.monotonic() + 10
    while sandbox.sweep() and time.monotonic() < deadline:
        time.sleep(0.1)
    bases = [b for b in (ISO.cgroup2, ISO.cgroup1_memory) if b]
    assert not [p for b in bases for p in glob.glob(f"{b}/gome-{ident}-*")]


@pytest.mark.skipif(not ISO.nsenter, reason="no network namespace to keep here")
def test_network_namespaces_are_reused_but_never_shared_at_once(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    meet = tmp_path / "meet"
    meet.mkdir()
    # Two runs wait for each other (however busy the machine), so they are in flight at once.
    code = textwrap.dedent(f"""
        import os, pathlib, time, uuid
        meet = pathlib.Path({str(meet)!r})
        (meet / uuid.uuid4().hex).write_text("")
        deadline = time.monotonic() + 30
        while len(list(meet.iterdir())) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        print(os.readlink("/proc/self/ns/net"))
    """)
    host = os.readlink("/proc/self/ns/net")
    with make(tmp_path) as ex:
        with ThreadPoolExecutor(2) as pool:
            first, second = pool.map(lambda _: _run(ex, code).stdout_tail.strip(), range(2))
        later = _run(ex, code).stdout_tail.strip()
        assert first != second and host not in (first, second)
        assert later in (first, second), "a kept namespace is reused"
        killed = list(ex._netns._all)
        for helper in killed:  # a helper that dies is replaced
            helper.kill()
            helper.wait()
        replaced = _run(ex, code)
        holders = list(ex._netns._all)
    # Not compared with the killed namespaces' ids: the kernel may give a new namespace the id
    # of one that has ended.
    assert replaced.ok and replaced.stdout_tail.strip() != host
    assert len(holders) == 1 and holders[0] not in killed


def test_paths_hidden_by_the_request_cannot_be_read(tmp_path):
    """The engine hides a competition's private answers from every candidate it runs."""
    from gome_core.executors.sandbox import probe

    if not probe().mount_namespace:
        pytest.skip("no mount namespace here: hidden paths cannot be masked")
    private = tmp_path / "private"
    private.mkdir()
    (private / "answers.csv").write_text("id,y\n1,42\n")
    code = textwrap.dedent(f"""
        import pathlib
        try:
            print(pathlib.Path({str(private / "answers.csv")!r}).read_text())
        except OSError as exc:
            print("blocked", type(exc).__name__)
    """)
    with LocalExecutor(LocalExecutorConfig(workspace_root=str(tmp_path / "ws"))) as ex:
        result = ex.run(ExecutionRequest(Candidate.from_code("h", code), hidden=(private,)))
    assert result.ok, result.stderr_tail
    assert "42" not in result.stdout_tail and "blocked" in result.stdout_tail


def test_an_interpreter_that_does_not_exist_is_refused_up_front(tmp_path):
    from gome_core.errors import UsageError

    with pytest.raises(UsageError, match="executor.python = '/no/such/python': no such"):
        LocalExecutor(LocalExecutorConfig(python="/no/such/python"))


@pytest.mark.parametrize(
    ("files", "problem"),
    [
        ({"main.py": "", "../x": ""}, "'../x' escapes its workspace"),
        ({"/etc/x": ""}, "'/etc/x' escapes its workspace"),
        ({"a": "", "a/b": ""}, "'a' is also a folder of another file"),
        ({"main.py": "", "./main.py": ""}, "'./main.py' names a file another name names too"),
        ({"a/b": "", "a//b": ""}, "'a//b' names a file another name names too"),
    ],
)
def test_candidate_file_names_are_checked_once_for_everyone(files, problem):
    assert problem in "; ".join(check_file_names(files).values())
    assert check_file_names({"main.py": "", "src/util.py": "", "./notes.txt": ""}) == {}
