"""The executor conformance suite: what every executor plugin must do with untrusted candidates.

Subclass :class:`ExecutorSuite` in your plugin's tests and override the ``executor`` fixture::

    class TestMyExecutor(ExecutorSuite):
        @pytest.fixture
        def executor(self, tmp_path):
            with MyExecutor(MyConfig(workspace_root=str(tmp_path / "ws"), kill_grace_s=0.5)) as ex:
                yield ex

Give it a short kill grace (the suite's time-outs are about a second) and a workspace on this
machine: several checks look into ``result.workspace`` after the run to see whether processes the
candidate started are still alive (their heartbeat files stop changing once they are dead).

A guarantee an executor cannot give on some machine is stated in the result's ``notes`` as a line
starting with its key (``memory: ...``, or ``tree: ...`` saying the process tree is not tracked);
the suite skips that one check then, with the note as the reason, instead of failing. Network
isolation is not checked here: cover it in your own tests.
"""

from __future__ import annotations

import json
import textwrap
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from gome_core.interfaces import Executor
from gome_core.types import Candidate, ExecutionRequest, ExecutionResult, ResourceLimits

__all__ = ["ExecutorSuite"]

#: Seconds a heartbeat must stay unchanged before its writer counts as dead (it beats every 50 ms).
_STILL_S = 0.4

_HEARTBEAT = """
def heartbeat(name):
    import os, time
    path = os.path.join("working", "hb-" + name)
    n = 0
    end = time.monotonic() + 60  # a leaked process (a failing executor) ends by itself
    while time.monotonic() < end:
        n += 1
        with open(path + ".tmp", "w") as fh:
            fh.write(str(n))
        os.replace(path + ".tmp", path)
        time.sleep(0.05)
    os._exit(0)
"""


def _code(body: str) -> str:
    return textwrap.dedent(_HEARTBEAT) + textwrap.dedent(body)


def _wait_for(path: Path, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists():
            return True
        time.sleep(0.02)
    return path.exists()


def _note(result: ExecutionResult, key: str) -> str | None:
    return next((n for n in result.notes if n.startswith(f"{key}:")), None)


class ExecutorSuite:
    """Checks an executor: results, time-outs that end whole process trees (also children that
    ignore SIGTERM or escape with a double fork and ``setsid``), the memory cap, secret scrubbing,
    the output cap, read-only input, concurrent runs, cancellation, bad input, and that a closed
    executor refuses runs.

    Override :meth:`executor`. Class attributes tune the suite for a slow executor.
    """

    #: The time-out the suite gives candidates it expects to be killed.
    timeout_s: float = 1.0
    #: The memory cap (MB) the suite gives a candidate that tries to allocate a GiB.
    memory_mb: int = 128
    #: How long a killed run may take to return, beyond its time-out (kill grace included).
    slack_s: float = 15.0
    #: False when ``result.workspace`` is a copy of what the candidate left rather than the folder
    #: it ran in (files shipped back from a remote worker): the checks that watch a candidate's
    #: processes die through files they keep writing there are skipped, and the rest of each
    #: test still runs. Cover process clean-up on the worker in the plugin's own tests then.
    observes_processes: bool = True

    @pytest.fixture
    def executor(self) -> Executor:
        """The executor under test (abstract: override in your test class)."""
        raise NotImplementedError("override the `executor` fixture to return your executor")

    @pytest.fixture
    def public_dir(self, tmp_path: Path) -> Path:
        """A prepared competition: ``public/`` (what candidates see) beside ``private/``."""
        public = tmp_path / "competition" / "public"
        (public / "nested").mkdir(parents=True)
        (public / "train.csv").write_text("id,y\n1,0\n2,1\n")
        (public / "sample_submission.csv").write_text("id,y\n3,0\n")
        (public / "nested" / "extra.txt").write_text("extra\n")
        private = tmp_path / "competition" / "private"
        private.mkdir()
        (private / "answers.csv").write_text("id,y\n3,1\n")
        return public

    # -- helpers

    def run(self, executor: Executor, code: str, **kwargs: object) -> ExecutionResult:
        """Run ``code`` as a candidate's ``main.py``."""
        candidate = Candidate.from_code(f"suite-{uuid.uuid4().hex[:6]}", textwrap.dedent(code))
        return executor.run(ExecutionRequest(candidate, **kwargs))  # type: ignore[arg-type]

    def assert_dead(self, result: ExecutionResult, *names: str) -> None:
        """The candidate's heartbeat writers ``names`` have stopped (they are dead)."""
        if not self.observes_processes:
            return  # the run's folder is elsewhere: nothing to watch here
        if result.workspace is None or not Path(result.workspace).is_dir():
            pytest.skip("the executor reports no local workspace: processes cannot be observed")
        working = Path(result.workspace) / "working"
        for name in names:
            beat = working / f"hb-{name}"
            assert _wait_for(beat, 0.5), (
                f"heartbeat {name!r} never started: the candidate did not get that far "
                f"(stderr: {result.stderr_tail[-500:]!r})"
            )
        before = {name: (working / f"hb-{name}").read_text() for name in names}
        time.sleep(_STILL_S)
        after = {name: (working / f"hb-{name}").read_text() for name in names}
        alive = [name for name in names if before[name] != after[name]]
        assert not alive, f"processes outlived the run: {', '.join(alive)}"

    def assert_bad_input(self, result: ExecutionResult, *words: str) -> None:
        assert result.error, f"expected an error in the result, got {result}"
        assert result.outcome == "error" and not result.ok
        for word in words:
            assert word in result.error, f"{word!r} not in the error {result.error!r}"

    # -- a run and its result

    def test_success_reads_input_and_produces_files(
        self, executor: Executor, public_dir: Path
    ) -> None:
        candidate = Candidate(
            "suite-ok",
            files={
                "main.py": textwrap.dedent(
                    """
                    import os, helpers.util as util
                    rows = open("input/train.csv").read().splitlines()
                    assert open("input/nested/extra.txt").read() == "extra\\n"
                    for d in ("input", "working", "submission"):
                        assert os.path.isdir(d), d
                    open("working/scratch.txt", "w").write("x")
                    open("submission/submission.csv", "w").write("id,y\\n3,1\\n")
                    open("scores.csv", "w").write("model,acc\\nensemble,0.5\\n")
                    print("rows", len(rows), util.VALUE)
                    """
                ),
                "helpers/__init__.py": "",
                "helpers/util.py": "VALUE = 42\n",
            },
        )
        result = executor.run(ExecutionRequest(candidate, input_dir=public_dir))
        assert result.ok and result.outcome == "ok", result
        assert result.exit_code == 0 and result.signal is None and result.error is None
        assert "rows 3 42" in result.stdout_tail
        assert "submission/submission.csv" in result.produced
        assert "scores.csv" in result.produced
        assert "main.py" not in result.produced and "working/scratch.txt" not in result.produced
        assert result.wall_s > 0 and result.output_cap_bytes > 0
        if result.workspace is not None:
            ws = Path(result.workspace)
            assert (ws / "submission" / "submission.csv").read_text() == "id,y\n3,1\n"
            assert (ws / "main.py").exists() and (ws / "helpers" / "util.py").exists()

    def test_failure_is_a_result_with_the_error_tail(self, executor: Executor) -> None:
        result = self.run(executor, "import sys\nprint('went wrong', file=sys.stderr)\nsys.exit(3)")
        assert result.exit_code == 3 and result.outcome == "failed" and not result.ok
        assert result.error is None and not result.timed_out and not result.out_of_memory
        assert "went wrong" in result.stderr_tail

    def test_death_by_signal_is_reported(self, executor: Executor) -> None:
        result = self.run(executor, "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)")
        assert result.signal == 9 and result.exit_code is None and result.outcome == "signal"

    def test_cpu_time_and_peak_memory_are_measured(self, executor: Executor) -> None:
        result = self.run(
            executor,
            """
            import time
            block = bytearray(80 << 20)
            end = time.process_time() + 0.3
            while time.process_time() < end:
                pass
            """,
        )
        assert result.ok, result
        assert result.cpu_s >= 0.2, f"cpu_s = {result.cpu_s}"
        assert result.peak_memory_mb is not None and result.peak_memory_mb >= 60, (
            f"peak_memory_mb = {result.peak_memory_mb} for an 80 MB candidate"
        )

    # -- time-outs end the whole tree

    def test_timeout_kills_a_child_that_ignores_sigterm(self, executor: Executor) -> None:
        code = _code(
            """
            import os, signal, time
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            if os.fork() == 0:
                heartbeat("child")
            heartbeat("main")
            """
        )
        started = time.monotonic()
        result = self.run(executor, code, limits=ResourceLimits(timeout_s=self.timeout_s))
        assert time.monotonic() - started < self.timeout_s + self.slack_s
        assert result.timed_out and result.outcome == "timeout" and not result.ok
        assert result.wall_s >= self.timeout_s * 0.9
        self.assert_dead(result, "main", "child")

    def test_timeout_kills_a_double_forked_setsid_grandchild(self, executor: Executor) -> None:
        code = _code(
            """
            import os, time
            if os.fork() == 0:
                os.setsid()
                if os.fork() == 0:
                    heartbeat("daemon")
                os._exit(0)
            os.wait()
            time.sleep(60)
            """
        )
        result = self.run(executor, code, limits=ResourceLimits(timeout_s=self.timeout_s))
        assert result.timed_out
        if _note(result, "tree") and "not tracked" in (_note(result, "tree") or ""):
            pytest.skip(_note(result, "tree") or "")
        self.assert_dead(result, "daemon")

    def test_processes_left_behind_end_with_the_run(self, executor: Executor) -> None:
        code = _code(
            """
            import os, time
            if os.fork() == 0:
                os.setsid()
                if os.fork() == 0:
                    heartbeat("daemon")
                os._exit(0)
            os.wait()
            while not os.path.exists("working/hb-daemon"):
                time.sleep(0.01)
            print("main done")
            """
        )
        result = self.run(executor, code, limits=ResourceLimits(timeout_s=30))
        assert result.ok and "main done" in result.stdout_tail, result
        if _note(result, "tree") and "not tracked" in (_note(result, "tree") or ""):
            pytest.skip(_note(result, "tree") or "")
        self.assert_dead(result, "daemon")

    # -- limits

    def test_memory_cap_is_reported_as_out_of_memory(self, executor: Executor) -> None:
        code = """
            blocks = []
            for _ in range(64):  # up to 1 GiB, every page touched
                blocks.append(bytearray(16 << 20))
            print("survived")
        """
        limits = ResourceLimits(timeout_s=60, memory_mb=self.memory_mb)
        result = self.run(executor, code, limits=limits)
        note = _note(result, "memory")
        if result.ok and note:
            pytest.skip(note)
        assert "survived" not in result.stdout_tail, f"the {self.memory_mb} MB cap did not hold"
        assert result.out_of_memory and result.outcome == "oom" and not result.ok, result

    def test_secrets_never_reach_the_candidate(
        self, executor: Executor, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        secret = f"gome-secret-{uuid.uuid4().hex}"
        names = (
            "OPENAI_API_KEY",
            "ANTHROPIC_API_KEY",
            "AWS_SECRET_ACCESS_KEY",
            "HF_TOKEN",
            "GITHUB_TOKEN",
            "DATABASE_PASSWORD",
            "SOME_SERVICE_CREDENTIALS",
            "UNRELATED_SETTING",
        )
        for name in names:
            monkeypatch.setenv(name, secret)
        code = """
            import json, os
            print(json.dumps(dict(os.environ)))
            if os.path.exists("/proc/self/environ"):  # what the process was started with
                with open("/proc/self/environ", "rb") as fh:
                    print(fh.read().replace(b"\\0", b" ").decode(errors="replace"))
        """
        result = self.run(executor, code, env={"GOME_SUITE_VISIBLE": "yes"})
        assert result.ok, result
        assert secret not in result.stdout_tail + result.stderr_tail
        seen = json.loads(result.stdout_tail.splitlines()[0])
        assert seen.get("GOME_SUITE_VISIBLE") == "yes", "request.env did not reach the candidate"
        # A secret-looking name in request.env is refused (an error), or at least never arrives.
        refused = self.run(executor, code, env={"MY_API_KEY": secret})
        assert secret not in refused.stdout_tail + refused.stderr_tail, (
            "request.env passed MY_API_KEY, a name that looks like a secret, to the candidate"
        )
        assert secret not in (refused.error or ""), "the refusal shows the secret's value"

    def test_output_is_capped(self, executor: Executor) -> None:
        code = """
            import sys
            for _ in range(4000):
                sys.stdout.write("o" * 999 + "\\n")
                sys.stderr.write("e" * 999 + "\\n")
            sys.stdout.write("END-OUT\\n")
            sys.stderr.write("END-ERR\\n")
        """
        result = self.run(executor, code)
        assert result.ok and result.output_truncated, result
        cap = result.output_cap_bytes
        assert 0 < cap < 4_000_000, f"the stated cap is {cap} bytes"
        assert len(result.stdout_tail.encode()) <= cap
        assert len(result.stderr_tail.encode()) <= cap
        assert result.stdout_tail.rstrip().endswith("END-OUT")
        assert result.stderr_tail.rstrip().endswith("END-ERR")

    # -- input/ is read-only and holds only the public files

    def test_input_is_read_only_and_private_files_are_out_of_reach(
        self, executor: Executor, public_dir: Path
    ) -> None:
        before = {
            p.relative_to(public_dir): p.read_bytes()
            for p in sorted(public_dir.rglob("*"))
            if p.is_file()
        }
        code = """
            import json, os, shutil
            tried = {}
            def attempt(name, action):
                try:
                    action()
                    tried[name] = "done"
                except Exception as exc:
                    tried[name] = type(exc).__name__
            attempt("overwrite", lambda: open("input/train.csv", "w").write("changed"))
            attempt("append", lambda: open("input/train.csv", "a").write("more"))
            attempt("delete", lambda: os.remove("input/sample_submission.csv"))
            attempt("create", lambda: open("input/new.txt", "w").write("new"))
            attempt("rename", lambda: os.rename("input/nested", "input/moved"))
            attempt("rmtree", lambda: shutil.rmtree("input/nested"))
            attempt("private", lambda: open("input/../private/answers.csv").read())
            attempt("private2", lambda: open("input/../../private/answers.csv").read())
            print(json.dumps(tried))
        """
        result = self.run(executor, code, input_dir=public_dir)
        assert result.ok, result
        tried = json.loads(result.stdout_tail.strip().splitlines()[-1])
        after = {
            p.relative_to(public_dir): p.read_bytes()
            for p in sorted(public_dir.rglob("*"))
            if p.is_file()
        }
        assert after == before, f"the candidate changed the public files ({tried})"
        assert tried["private"] != "done" and tried["private2"] != "done", (
            "private answers were reachable from input/"
        )

    # -- concurrency and cancellation

    def test_concurrent_candidates_do_not_see_each_others_files(
        self, executor: Executor, public_dir: Path
    ) -> None:
        code = """
            import json, os, time
            me = os.environ["GOME_SUITE_NAME"]
            open(f"working/{me}.txt", "w").write(me)
            open("submission/submission.csv", "w").write(f"id,y\\n{me},1\\n")
            time.sleep(0.5)
            print(json.dumps({"root": sorted(os.listdir(".")),
                              "working": sorted(os.listdir("working"))}))
        """

        def one(name: str) -> ExecutionResult:
            return self.run(executor, code, input_dir=public_dir, env={"GOME_SUITE_NAME": name})

        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(one, ["alpha", "beta"]))
        for name, other, result in zip(("alpha", "beta"), ("beta", "alpha"), results, strict=True):
            assert result.ok, result
            seen = json.loads(result.stdout_tail.strip().splitlines()[-1])
            assert f"{name}.txt" in seen["working"] and f"{other}.txt" not in seen["working"]
        workspaces = [r.workspace for r in results]
        assert workspaces[0] != workspaces[1] or workspaces[0] is None
        for name, result in zip(("alpha", "beta"), results, strict=True):
            if result.workspace is not None:
                written = (Path(result.workspace) / "submission" / "submission.csv").read_text()
                assert name in written

    def test_cancel_ends_runs_in_flight_and_later_runs_work(self, executor: Executor) -> None:
        code = _code(
            """
            import os, time
            if os.fork() == 0:
                heartbeat("child")
            time.sleep(60)
            """
        )
        results: list[ExecutionResult] = []
        thread = threading.Thread(
            target=lambda: results.append(
                self.run(executor, code, limits=ResourceLimits(timeout_s=60))
            )
        )
        thread.start()
        time.sleep(2.0)
        started = time.monotonic()
        executor.cancel()
        thread.join(timeout=self.slack_s)
        assert not thread.is_alive(), "run() did not return after cancel()"
        assert time.monotonic() - started < self.slack_s
        assert results and results[0].cancelled and not results[0].ok
        assert results[0].outcome == "cancelled"
        self.assert_dead(results[0], "child")
        later = self.run(executor, "print('after cancel')")
        assert later.ok and "after cancel" in later.stdout_tail, later

    # -- bad input is an error in the result; the executor goes on

    def test_a_candidate_without_main_py_is_an_error(self, executor: Executor) -> None:
        candidate = Candidate("suite-no-main", files={"model.py": "print(1)"})
        self.assert_bad_input(executor.run(ExecutionRequest(candidate)), "main.py")

    def test_a_missing_candidate_is_an_error(self, executor: Executor) -> None:
        self.assert_bad_input(executor.run(ExecutionRequest(None)))  # type: ignore[arg-type]

    def test_a_wrong_interpreter_is_an_error(self, executor: Executor, tmp_path: Path) -> None:
        python = str(tmp_path / "no-such-env" / "bin" / "python")
        result = self.run(executor, "print(1)", command=(python, "main.py"))
        self.assert_bad_input(result, python)

    def test_a_command_that_is_not_found_is_an_error(self, executor: Executor) -> None:
        result = self.run(executor, "print(1)", command=("gome-suite-no-such-command", "x"))
        self.assert_bad_input(result, "gome-suite-no-such-command")

    def test_a_missing_input_dir_is_an_error(self, executor: Executor, tmp_path: Path) -> None:
        result = self.run(executor, "print(1)", input_dir=tmp_path / "missing")
        self.assert_bad_input(result, "missing")

    def test_runs_go_on_after_bad_input(self, executor: Executor, tmp_path: Path) -> None:
        for request in (
            ExecutionRequest(Candidate("suite-bad", files={})),
            ExecutionRequest(Candidate.from_code("suite-bad2", ""), command=("/nonexistent",)),
        ):
            assert executor.run(request).error is not None
        result = self.run(executor, "print('still fine')")
        assert result.ok and "still fine" in result.stdout_tail

    def test_close_refuses_later_runs(self, executor: Executor) -> None:
        assert self.run(executor, "print('before close')").ok
        executor.close()
        # Not a program run before: an executor that reuses results must not answer it either.
        later = self.run(executor, f"print('after close', {uuid.uuid4().hex!r})")
        assert later.error is not None and not later.ok, f"a run after close() ran: {later}"
        assert "after close" not in later.stdout_tail

    def test_runs_are_safe_from_several_threads(self, executor: Executor) -> None:
        code = "import os\nprint(os.environ['GOME_SUITE_NAME'])"

        def one(i: int) -> ExecutionResult:
            return self.run(executor, code, env={"GOME_SUITE_NAME": f"run-{i}"})

        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(one, range(6)))
        assert [r.stdout_tail.strip() for r in results] == [f"run-{i}" for i in range(6)]
        assert all(r.ok for r in results)
        workspaces = [r.workspace for r in results if r.workspace is not None]
        assert len(set(workspaces)) == len(workspaces)
