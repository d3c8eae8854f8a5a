"""The default executor: each candidate runs as a local subprocess in its own workspace.

Per candidate it makes a workspace ``<root>/<candidate>-<label>-<n>/`` holding the candidate's files
at the root, ``input/`` (the competition's public files), ``working/`` and ``submission/``; runs the
entry point in a new session (so the whole process tree can be signalled), with an environment built
from an allowlist (no secrets of the parent), and a hard time-out: SIGTERM to the process group,
then SIGKILL after a grace period. stdout and stderr are drained by threads into bounded tails, so a
candidate that prints gigabytes costs neither memory nor disk.
"""

from __future__ import annotations

import itertools
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from pathlib import Path
from typing import IO

from attrs import frozen

from gome_core.interfaces import Executor
from gome_core.logs import get_logger
from gome_core.types import ExecutionRequest, ExecutionResult

__all__ = ["LocalExecutor", "LocalExecutorConfig", "scrubbed_environment"]

log = get_logger(__name__)

#: Variables a candidate may inherit from the parent; all else (API keys above all) is dropped.
ENV_ALLOWLIST = (
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
    "TERM",
    "SYSTEMROOT",
    "CUDA_VISIBLE_DEVICES",
    "VIRTUAL_ENV",
    "CONDA_PREFIX",
)
_SECRET = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH)", re.IGNORECASE)


def scrubbed_environment(
    parent: dict[str, str] | os._Environ[str], extra: dict[str, str] | None = None
) -> dict[str, str]:
    """The environment a candidate gets: the allowlisted parent variables plus ``extra``.

    ``extra`` entries whose names look like secrets are refused too: a config that passes an API key
    to generated code is a mistake.
    """
    env = {k: parent[k] for k in ENV_ALLOWLIST if k in parent and not _SECRET.search(k)}
    for key, value in (extra or {}).items():
        if _SECRET.search(key):
            raise ValueError(f"refusing to pass {key!r} to a candidate: it looks like a secret")
        env[key] = value
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


@frozen
class LocalExecutorConfig:
    """Settings of the local executor."""

    timeout_s: float = 3600.0
    kill_grace_s: float = 5.0
    python: str | None = None  # interpreter for candidates; default: the one running gome
    workspace_root: str | None = None
    output_cap_bytes: int = 64 * 1024
    threads: int | None = None  # BLAS/OpenMP threads per candidate; default: CPUs / 1
    keep_workspaces: bool = True


class _Tail:
    """Keeps the last ``cap`` bytes written to it."""

    def __init__(self, cap: int) -> None:
        self.cap, self.size, self.truncated = cap, 0, False
        self._chunks: deque[bytes] = deque()

    def feed(self, chunk: bytes) -> None:
        self._chunks.append(chunk)
        self.size += len(chunk)
        while self.size - len(self._chunks[0]) >= self.cap:
            self.size -= len(self._chunks.popleft())
            self.truncated = True

    def text(self) -> str:
        data = b"".join(self._chunks)
        if len(data) > self.cap:
            data, self.truncated = data[-self.cap :], True
        return data.decode("utf-8", errors="replace")


def _drain(stream: IO[bytes], tail: _Tail) -> None:
    for chunk in iter(lambda: stream.read(65536), b""):
        tail.feed(chunk)
    stream.close()


class LocalExecutor(Executor):
    """Runs candidates as local subprocesses; see the module docstring for the guarantees."""

    def __init__(self, config: LocalExecutorConfig | None = None) -> None:
        self.config = config or LocalExecutorConfig()
        root = self.config.workspace_root
        self._root = Path(root) if root else Path(tempfile.mkdtemp(prefix="gome-ws-"))
        self._counter = itertools.count(1)
        self._lock = threading.Lock()
        self._running: dict[int, subprocess.Popen[bytes]] = {}
        self._cancelled = threading.Event()

    # -- workspace

    def _workspace(self, request: ExecutionRequest) -> Path:
        with self._lock:
            n = next(self._counter)
        label = f"-{request.label}" if request.label else ""
        ws = self._root / f"{request.candidate.id}{label}-{n}"
        ws.mkdir(parents=True)
        for rel, text in request.candidate.files.items():
            target = (ws / rel).resolve()
            if ws.resolve() not in target.parents:
                raise ValueError(f"candidate file {rel!r} escapes its workspace")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        for sub in ("working", "submission"):
            (ws / sub).mkdir(exist_ok=True)
        if request.input_dir is not None:
            (ws / "input").symlink_to(Path(request.input_dir).resolve(), target_is_directory=True)
        return ws

    def _env(self, request: ExecutionRequest) -> dict[str, str]:
        threads = self.config.threads or max(1, int(request.limits.cpus or 1))
        env = scrubbed_environment(os.environ, dict(request.env))
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env.setdefault(var, str(threads))
        return env

    # -- running

    def run(self, request: ExecutionRequest) -> ExecutionResult:
        cap = self.config.output_cap_bytes
        if self._cancelled.is_set():
            return ExecutionResult(exit_code=None, cancelled=True, error="executor cancelled")
        try:
            ws = self._workspace(request)
        except OSError as exc:
            return ExecutionResult(
                exit_code=None, output_cap_bytes=cap, error=f"cannot create workspace: {exc}"
            )
        python = self.config.python or sys.executable
        command = list(request.command or (python, request.candidate.ENTRY_POINT))
        timeout = request.limits.timeout_s or self.config.timeout_s
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.monotonic()
        try:
            proc = subprocess.Popen(
                command,
                cwd=ws,
                env=self._env(request),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            return ExecutionResult(
                exit_code=None,
                workspace=ws,
                output_cap_bytes=cap,
                error=f"cannot start {command[0]!r}: {exc.strerror or exc}",
            )
        with self._lock:
            self._running[proc.pid] = proc
        tails = (_Tail(cap), _Tail(cap))
        drains = [
            threading.Thread(target=_drain, args=(stream, tail), daemon=True)
            for stream, tail in zip((proc.stdout, proc.stderr), tails, strict=True)
        ]
        for t in drains:
            t.start()
        timed_out = False
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            # The leader may be gone while children it forked live on: end the whole group.
            self._kill_group(proc)
            with self._lock:
                self._running.pop(proc.pid, None)
        for t in drains:
            t.join(timeout=5)
        wall = time.monotonic() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        code = proc.returncode
        sig = -code if code is not None and code < 0 else None
        cancelled = self._cancelled.is_set() and not timed_out and code != 0
        produced = tuple(
            str(p.relative_to(ws)) for p in sorted((ws / "submission").rglob("*")) if p.is_file()
        ) + tuple(p.name for p in sorted(ws.glob("*.csv")) if p.is_file())
        return ExecutionResult(
            exit_code=None if sig is not None else code,
            signal=sig,
            timed_out=timed_out,
            cancelled=cancelled,
            wall_s=wall,
            # RUSAGE_CHILDREN is process-wide: approximate when candidates run concurrently.
            cpu_s=max(0.0, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)),
            stdout_tail=tails[0].text(),
            stderr_tail=tails[1].text(),
            output_cap_bytes=cap,
            output_truncated=tails[0].truncated or tails[1].truncated,
            workspace=ws,
            produced=produced,
        )

    def _kill_group(self, proc: subprocess.Popen[bytes]) -> None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + self.config.kill_grace_s
        while time.monotonic() < deadline:
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                break
            proc.poll()  # reap the leader, so that only live members keep the group alive
            time.sleep(0.05)
        else:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait()

    def cancel(self) -> None:
        self._cancelled.set()
        with self._lock:
            running = list(self._running.values())
        for proc in running:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def hardware(self) -> dict[str, object]:
        return {"cpus": os.cpu_count(), "gpus": 0}

    def close(self) -> None:
        self.cancel()
        if not self.config.keep_workspaces:
            shutil.rmtree(self._root, ignore_errors=True)
