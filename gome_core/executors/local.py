"""The default executor: each candidate runs as a local subprocess in its own sandboxed workspace.

Per candidate it makes a workspace ``<root>/<candidate>[-<label>]-<n>/`` holding the candidate's
files at the root, ``input/`` (the competition's public files, read-only), ``working/`` (scratch,
also ``TMPDIR``) and ``submission/``, and launches the command through a short exec chain of
small tools, so no extra Python process starts per candidate::

    [nsenter --target HOLDER --net] [unshare --mount]
        sh -c '<ulimit; join the cgroup; mount -a --fstab F>
               exec [setpriv --no-new-privs --bounding-set -cap,...] "$@"' <command>

What each link gives, and its fallback where the machine does not permit it (see
:mod:`gome_core.executors.sandbox` for the probe):

* a new session, and a per-candidate cgroup that every descendant stays in (also one that calls
  ``setsid`` or double-forks): the time-out sends SIGTERM to the whole tree, then SIGKILL. Without a
  writable cgroup the tree is found by its process group plus a scan of ``/proc/*/environ`` for
  the candidate's unique marker variable;
* a memory cap on the cgroup (reported as ``out_of_memory``), else ``RLIMIT_AS`` per process;
* no network, unless ``network = true``: a network namespace with only loopback, one per
  candidate running at once, kept for reuse (making one per launch costs more than the rest);
* ``input/`` a read-only bind mount of the public files in a private mount namespace (the
  originals are made read-only there too, the cgroup file systems are masked), else a copy;
* capabilities a root candidate could use to undo the above are dropped from its bounding set;
* an environment built from an allowlist (no secrets), BLAS/OpenMP thread caps from the CPU share;
* stdout and stderr drained into bounded in-memory tails (nothing is written to disk).

Each limitation that applies is stated in the result's ``notes``.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import re
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import deque
from pathlib import Path, PurePosixPath
from typing import IO

import attrs
from attrs import field, frozen

from gome_core.contract import check_file_names
from gome_core.errors import UsageError
from gome_core.executors.sandbox import (
    DROPPED_CAPABILITIES,
    Cgroup,
    Isolation,
    NetnsPool,
    probe,
    signal_pids,
    sweep,
)
from gome_core.interfaces import Executor
from gome_core.logs import get_logger
from gome_core.types import Candidate, ExecutionRequest, ExecutionResult

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
    "TERM",
    "SYSTEMROOT",
    "CUDA_VISIBLE_DEVICES",
    "VIRTUAL_ENV",
    "CONDA_PREFIX",
)
_SECRET = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH)", re.IGNORECASE)

#: Thread-pool sizes of the usual numeric libraries, capped to the candidate's CPU share.
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "NUMEXPR_MAX_THREADS",
    "RAYON_NUM_THREADS",
    "POLARS_MAX_THREADS",
    "LOKY_MAX_CPU_COUNT",
)

#: The variable that tags every process of a candidate (the fallback tree tracking reads it).
MARKER_VARIABLE = "GOME_SANDBOX"

#: What a process that ran out of address space (RLIMIT_AS) typically prints.
_MEMORY_ERROR = re.compile(
    r"MemoryError|std::bad_alloc|Cannot allocate memory|out of memory|failed to allocate",
    re.IGNORECASE,
)

INPUT_MODES = ("auto", "mount", "copy")

_SETUP_FAILED = "gome-sandbox: setup failed"
_SETUP_EXIT = 125
_RESERVED_DIRS = ("input", "working", "submission")
_MAX_PRODUCED = 1000


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
    """Settings of the local executor (every field has a default)."""

    #: Hard time-out of one run, unless the request sets one.
    timeout_s: float = field(default=3600.0, validator=attrs.validators.gt(0))
    #: Seconds between SIGTERM and SIGKILL when a run is ended.
    kill_grace_s: float = field(default=5.0, validator=attrs.validators.ge(0))
    #: Interpreter for candidates (a venv's or conda env's python); default: the one running gome.
    python: str | None = None
    #: Where workspaces are made; default: a new temporary folder.
    workspace_root: str | None = None
    #: Bytes of stdout and of stderr kept (the tail).
    output_cap_bytes: int = field(default=64 * 1024, validator=attrs.validators.gt(0))
    #: BLAS/OpenMP threads per candidate; default: its CPU share (the request's, else all CPUs).
    threads: int | None = field(
        default=None, validator=attrs.validators.optional(attrs.validators.ge(1))
    )
    #: Memory cap in MB unless the request sets one. Default: 90% of the machine's memory where a
    #: memory cgroup is available, else none.
    memory_mb: int | None = field(
        default=None, validator=attrs.validators.optional(attrs.validators.gt(0))
    )
    #: Let candidates reach the network. When false, a network namespace cuts it where permitted.
    network: bool = False
    #: How ``input/`` is made: ``auto`` (read-only bind mount where a mount namespace is
    #: permitted, else a copy), ``mount`` (bind mount or an error) or ``copy``.
    input_mode: str = field(default="auto", validator=lambda _, __, v: _check_input_mode(v))
    #: Paths masked (empty, read-only) in the candidate's mount namespace, e.g. private answers.
    hide_paths: tuple[str, ...] = field(default=(), converter=tuple)
    #: Keep workspaces after the executor closes (to look at candidates' scratch files; a run's
    #: directory keeps each node's code, output, scores and submission either way).
    keep_workspaces: bool = False


def _check_input_mode(value: str) -> None:
    if value not in INPUT_MODES:
        modes = ", ".join(repr(m) for m in INPUT_MODES)
        raise ValueError(f"input_mode must be one of {modes}, got {value!r}")


class _Tail:
    """Keeps the last ``cap`` bytes written to it."""

    def __init__(self, cap: int) -> None:
        self.cap, self.size, self.truncated = cap, 0, False
        self._chunks: deque[bytes] = deque()

    def feed(self, chunk: bytes) -> None:
        self._chunks.append(chunk)
        self.size += len(chunk)
        while self._chunks and self.size - len(self._chunks[0]) >= self.cap:
            self.size -= len(self._chunks.popleft())
            self.truncated = True

    def text(self) -> str:
        data = b"".join(self._chunks)
        if len(data) > self.cap:
            data, self.truncated = data[-self.cap :], True
            # Cut at a character boundary, so the decoded tail stays within the cap.
            start = 0
            while start < min(4, len(data)) and 0x80 <= data[start] < 0xC0:
                start += 1
            data = data[start:]
        return data.decode("utf-8", errors="replace")


def _drain(stream: IO[bytes], tail: _Tail) -> None:
    try:
        for chunk in iter(lambda: stream.read(65536), b""):
            tail.feed(chunk)
    finally:
        stream.close()


class _BadRequest(Exception):
    """The request cannot run; the message goes into ``result.error``."""


class _Run:
    """One candidate in flight: its process, its tree, and how it ended."""

    def __init__(self, proc: subprocess.Popen[bytes], cgroup: Cgroup | None, marker: str) -> None:
        self.proc = proc
        self.cgroup = cgroup
        self.marker = marker.encode()
        self.cancelled = False
        self.status: int | None = None
        self.rusage: object | None = None
        self.exited = threading.Event()

    def wait(self) -> None:
        """Reap the main process with its rusage (the waiter thread)."""
        try:
            _, status, rusage = os.wait4(self.proc.pid, 0)
        except ChildProcessError:  # reaped elsewhere (a host that handles SIGCHLD itself)
            status, rusage = None, None
        self.status, self.rusage = status, rusage
        # Popen must not try to reap it again (it ignores a returncode already set).
        self.proc.returncode = os.waitstatus_to_exitcode(status) if status is not None else 0
        self.exited.set()

    # -- the process tree

    def members(self) -> set[int]:
        """Live processes of the tree (zombies excluded)."""
        if self.cgroup is not None and self.cgroup.dirs:
            return self.cgroup.pids()
        return _group_or_marked(self.proc.pid, self.marker)

    def signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)
        signal_pids(self.members(), sig)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        if self.cgroup is not None and self.cgroup.dirs:
            self.cgroup.kill()
        else:
            signal_pids(self.members(), signal.SIGKILL)

    def end(self, grace_s: float) -> bool:
        """SIGTERM the whole tree, SIGKILL what is left after ``grace_s``; whether any was left."""
        if not self.members() and self.exited.is_set():
            return False
        self.signal(signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline:
            if self.exited.is_set() and not self.members():
                return True
            time.sleep(0.02)
        for _ in range(200):  # a forking tree may need a few rounds outside a cgroup
            self.kill()
            if self.exited.wait(0.01) and not self.members():
                break
        return True


def _group_or_marked(pgid: int, marker: bytes) -> set[int]:
    """Live members of process group ``pgid`` plus every process carrying ``marker``."""
    if not sys.platform.startswith("linux"):
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return set()
        return {pgid}
    found: set[int] = set()
    me = os.getpid()
    try:
        entries = os.listdir("/proc")
    except OSError:
        return found
    for entry in entries:
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat_line = fh.read()
            # Fields after the command name (which may hold spaces): state ppid pgrp ...
            fields = stat_line[stat_line.rindex(b")") + 2 :].split()
            if fields[0] in (b"Z", b"X"):
                continue
            if int(fields[2]) == pgid:
                found.add(int(entry))
                continue
            with open(f"/proc/{entry}/environ", "rb") as fh:
                if marker in fh.read().split(b"\0"):
                    found.add(int(entry))
        except (OSError, ValueError, IndexError):
            continue
    return found


class LocalExecutor(Executor):
    """Runs candidates as local sandboxed subprocesses; see the module docstring."""

    def __init__(
        self, config: LocalExecutorConfig | None = None, *, isolation: Isolation | None = None
    ) -> None:
        """``isolation`` restricts the features used (default: all that work here, probed)."""
        self.config = config or LocalExecutorConfig()
        if self.config.python:
            # Found now, not at the first step: every candidate would fail to start.
            python = self._python()
            if not (python and os.path.isfile(python) and os.access(python, os.X_OK)):
                raise UsageError(
                    f"executor.python = {self.config.python!r}: no such interpreter "
                    f"(give the path of a python, e.g. a venv's bin/python, or a name on the PATH)."
                )
        self._isolation = isolation
        self._id = uuid.uuid4().hex[:10]
        self._counter = itertools.count(1)
        self._lock = threading.Lock()
        self._running: set[_Run] = set()
        self._generation = 0  # bumped by cancel(): runs launched from an older one are cancelled
        self._closed = False
        self._root: Path | None = None
        self._own_root = False
        self._made: list[Path] = []  # workspaces this executor made, in a root it may share
        self._private: Path | None = None
        self._netns: NetnsPool | None = None

    # -- facts

    def isolation(self) -> dict[str, str]:
        """How each guarantee is provided on this machine (probed once, cached)."""
        return (self._isolation or probe()).describe()

    def hardware(self) -> dict[str, object]:
        return {"cpus": _available_cpus(), "memory_mb": _total_memory_mb(), "gpus": 0}

    # -- workspace

    def _dirs(self) -> tuple[Path, Path]:
        with self._lock:
            if self._root is None:
                if self.config.workspace_root:
                    self._root = Path(self.config.workspace_root)
                    self._root.mkdir(parents=True, exist_ok=True)
                else:
                    self._root, self._own_root = Path(tempfile.mkdtemp(prefix="gome-ws-")), True
            if self._private is None:
                # Launch files (mount tables) live outside every workspace.
                self._private = Path(tempfile.mkdtemp(prefix="gome-sandbox-"))
            return self._root, self._private

    def _workspace(self, request: ExecutionRequest, root: Path) -> tuple[Path, int]:
        stem = (
            re.sub(r"[^A-Za-z0-9._-]+", "_", request.candidate.id)[:64].strip("._") or "candidate"
        )
        label = f"-{re.sub(r'[^A-Za-z0-9._-]+', '_', request.label)[:32]}" if request.label else ""
        while True:
            n = next(self._counter)
            ws = root / f"{stem}{label}-{n}"
            try:
                ws.mkdir(parents=True)
                break
            except FileExistsError:  # another executor (or an earlier run) shares the root
                continue
        with self._lock:
            self._made.append(ws)
        try:
            for rel, text in request.candidate.files.items():
                target = ws / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
            for sub in _RESERVED_DIRS:
                (ws / sub).mkdir(exist_ok=True)
        except OSError:
            shutil.rmtree(ws, ignore_errors=True)
            raise
        return ws, n

    # -- running

    def run(self, request: ExecutionRequest) -> ExecutionResult:
        """Run ``request``; never raises for bad input (``result.error`` says what is wrong)."""
        cap = self.config.output_cap_bytes
        with self._lock:
            generation, closed = self._generation, self._closed
        if closed:
            return ExecutionResult.not_run("executor closed", output_cap_bytes=cap, cancelled=True)
        try:
            self._check(request)
        except _BadRequest as exc:
            return ExecutionResult.not_run(str(exc), output_cap_bytes=cap)
        iso = self._isolation or probe()
        notes: list[str] = []
        try:
            root, private = self._dirs()
        except OSError as exc:
            return ExecutionResult(
                exit_code=None,
                output_cap_bytes=cap,
                error=f"cannot create the workspace root: {exc.strerror or exc}",
            )
        try:
            ws, n = self._workspace(request, root)
        except OSError as exc:
            return ExecutionResult(
                exit_code=None,
                output_cap_bytes=cap,
                error=f"cannot create the workspace in {root}: {exc.strerror or exc}",
            )
        try:
            return self._launch(request, iso, ws, private, n, generation, notes)
        except _BadRequest as exc:
            error = str(exc)
        except OSError as exc:  # e.g. a full disk while copying the input
            error = f"cannot prepare the run in {ws}: {exc.strerror or exc}"
        return ExecutionResult(
            exit_code=None, output_cap_bytes=cap, workspace=ws, error=error, notes=notes
        )

    def _check(self, request: ExecutionRequest) -> None:
        candidate = getattr(request, "candidate", None)
        if not isinstance(candidate, Candidate):
            raise _BadRequest(f"no candidate to run (got {type(candidate).__name__})")
        problems = check_file_names(candidate.files)
        if problems:
            raise _BadRequest("; ".join(problems.values()))
        for rel in candidate.files:
            if PurePosixPath(rel).parts[0] == "input":
                raise _BadRequest(f"candidate file {rel!r} is inside input/, which is read-only")
        if request.command is None and Candidate.ENTRY_POINT not in candidate.files:
            have = ", ".join(sorted(candidate.files)[:5]) or "no files"
            raise _BadRequest(
                f"candidate {candidate.id!r} has no {Candidate.ENTRY_POINT} to run (it has: "
                f"{have}); write the entry point or pass a command"
            )
        if request.command is not None and not request.command:
            raise _BadRequest("the command is empty")
        if request.input_dir is not None and not Path(request.input_dir).is_dir():
            raise _BadRequest(f"the input directory {request.input_dir} does not exist")

    def _launch(
        self,
        request: ExecutionRequest,
        iso: Isolation,
        ws: Path,
        private: Path,
        n: int,
        generation: int,
        notes: list[str],
    ) -> ExecutionResult:
        with contextlib.ExitStack() as cleanup:
            return self._prepare_and_execute(
                request, iso, ws, private, n, generation, notes, cleanup
            )

    def _prepare_and_execute(
        self,
        request: ExecutionRequest,
        iso: Isolation,
        ws: Path,
        private: Path,
        n: int,
        generation: int,
        notes: list[str],
        cleanup: contextlib.ExitStack,
    ) -> ExecutionResult:
        config = self.config
        marker = f"{self._id}-{n}"
        env = self._env(request, ws, marker)
        command = self._command(request, env, ws)

        # -- input/: a read-only bind mount where permitted, else a copy
        mounts: list[tuple[str, str, str, str]] = []
        if request.input_dir is not None:
            public = str(Path(request.input_dir).resolve())
            if config.input_mode != "copy" and iso.mount_namespace:
                # The originals too are read-only in the namespace, not only their view at input/.
                mounts += [
                    (public, public, "none", "bind,ro"),
                    (public, str(ws / "input"), "none", "bind,ro"),
                ]
            elif config.input_mode == "mount":
                raise _BadRequest(
                    "input_mode = 'mount' but no mount namespace is permitted here; "
                    "use input_mode = 'auto' or 'copy'"
                )
            else:
                # The copy is removed after the run: it would only double the disk used.
                cleanup.callback(_empty_dir, ws / "input")
                _copy_read_only(Path(public), ws / "input")
                if config.input_mode == "auto":
                    notes.append(
                        "input: input/ is a copy of the public files (no mount namespace here); "
                        "the originals cannot be changed through it"
                    )
        hide = (*config.hide_paths, *map(str, request.hidden))
        if hide:
            if iso.mount_namespace:
                for hidden in hide:
                    path = Path(hidden).expanduser()
                    if path.is_dir():
                        mounts.append(("gome-hidden", str(path), "tmpfs", "ro,size=4k,mode=000"))
                    elif path.exists():
                        mounts.append(("/dev/null", str(path), "none", "bind,ro"))
            else:
                notes.append("hide_paths: not hidden (no mount namespace here)")

        # -- the cgroup: tree tracking and the memory cap
        memory_mb = request.limits.memory_mb or config.memory_mb
        explicit_memory = memory_mb is not None
        cgroup = None
        if iso.tracks_tree:
            if memory_mb is None and iso.memory_cgroup:
                memory_mb = int(_total_memory_mb() * 0.9) or None
            cgroup = Cgroup(iso, f"gome-{marker}", memory_mb * 2**20 if memory_mb else None)
            cleanup.callback(cgroup.remove)
            if not cgroup.dirs:
                cgroup = None
        if cgroup is not None and iso.mount_namespace:
            # A root candidate could otherwise move itself out or raise its own cap.
            for point in (iso.cgroup2_mount, iso.cgroup1_memory_mount):
                if point:
                    mounts.append(("gome-masked", point, "tmpfs", "ro,size=4k"))
        rlimit_kb = None
        if explicit_memory and not (cgroup and cgroup.memory_limited):
            if iso.rlimit:
                rlimit_kb = int(memory_mb or 0) * 1024
                notes.append(
                    "memory: capped per process by an rlimit (no memory cgroup here), not for the "
                    "whole tree; running out is recognised from the error output"
                )
            else:
                notes.append("memory: the cap is not enforced on this platform")
        if cgroup is None:
            notes.append(
                "tree: no writable cgroup here; processes that leave the process group are found "
                "by an environment marker in /proc"
                if iso.proc_environ
                else "tree: processes that leave the process group (setsid) are not tracked here"
            )
        netns = not config.network and iso.network_namespace
        if not config.network and not netns:
            notes.append("network: not isolated (no network namespace is permitted here)")
        fstab_path = private / f"fstab-{n}"
        mount_ns = iso.mount_namespace and bool(mounts)
        pool = self._netns_pool(iso) if netns else None
        for _ in range(3):
            holder = pool.acquire() if pool is not None else None
            argv, fstab = self._chain(
                iso,
                command,
                cgroup,
                mounts,
                mount_ns,
                netns,
                rlimit_kb,
                fstab_path,
                holder.pid if holder is not None else None,
            )
            if fstab:
                cleanup.callback(fstab_path.unlink, missing_ok=True)
                fstab_path.write_text(fstab)
            try:
                result = self._execute(
                    request, argv, env, ws, cgroup, marker, generation, notes, rlimit_kb
                )
            except BaseException:
                if holder is not None and pool is not None:
                    pool.release(holder)
                raise
            if holder is None or pool is None:
                return result
            first = result.stderr_tail.lstrip().partition("\n")[0]
            if not (
                result.exit_code == 1
                and first.startswith("nsenter: ")
                and f"/proc/{holder.pid}/" in first
            ):
                pool.release(holder)  # the tree is dead: the namespace is free again
                return result
            # The kept namespace is gone (its helper was killed): the candidate never started,
            # so it runs again, in another one.
            log.warning("a kept network namespace vanished", error=result.stderr_tail.strip())
            pool.discard(holder)
        return attrs.evolve(result, error="the sandbox could not be set up: no network namespace")

    def _netns_pool(self, iso: Isolation) -> NetnsPool:
        with self._lock:
            if self._netns is None:
                self._netns = NetnsPool(iso)
            return self._netns

    def _chain(
        self,
        iso: Isolation,
        command: list[str],
        cgroup: Cgroup | None,
        mounts: list[tuple[str, str, str, str]],
        mount_ns: bool,
        netns: bool,
        rlimit_kb: int | None,
        fstab_path: Path,
        netns_pid: int | None = None,
    ) -> tuple[list[str], str]:
        """The exec chain that sets the sandbox up and then becomes ``command``.

        ``netns_pid`` names a process holding a kept network namespace to enter (else a new one
        is made when ``netns``).
        """
        prefix: list[str] = []
        if netns_pid is not None and iso.nsenter and iso.unshare:
            prefix = [iso.nsenter, "--target", str(netns_pid)]
            if iso.user_namespace:
                prefix += ["--user", "--preserve-credentials"]
            prefix += ["--net", "--"]
            if mount_ns:
                prefix += [iso.unshare, "--mount", "--"]
        elif iso.unshare and (mount_ns or netns or (iso.user_namespace and iso.setpriv)):
            prefix = [iso.unshare]
            if iso.user_namespace:
                prefix += ["--user", "--map-root-user"]
            if netns:
                prefix.append("--net")
            if mount_ns:
                prefix.append("--mount")
            prefix.append("--")
        fail = f"{{ echo '{_SETUP_FAILED}' >&2; exit {_SETUP_EXIT}; }}"
        lines: list[str] = []
        if rlimit_kb is not None and iso.rlimit:
            lines.append(f"ulimit -{iso.rlimit} {rlimit_kb} || {fail}")
        fstab = ""
        if mount_ns and mounts and iso.mount:
            fstab = "".join(
                f"{_fstab_escape(src)} {_fstab_escape(dst)} {fs} {opts} 0 0\n"
                for src, dst, fs, opts in mounts
            )
        loopback = netns and iso.ip and netns_pid is None
        if cgroup is not None:
            files = cgroup.procs_files
            if fstab or loopback:
                # Joining a cgroup waits for the kernel (an RCU grace period): a subshell moves
                # this shell (its $$) meanwhile the mounts are made. Only the short-lived helpers
                # forked before the move stay outside; the candidate is exec'd after it. The files
                # are opened first: the mounts mask the cgroup file systems.
                fds = range(3, 3 + len(files))
                lines.append(
                    "exec "
                    + " ".join(f"{fd}>{shlex.quote(f)}" for fd, f in zip(fds, files, strict=True))
                    + f" || {fail}"
                )
                join = " && ".join(f"echo $$ >&{fd}" for fd in fds)
                lines.append(f"{{ {join}; }} & joined=$!")
            else:
                join = " && ".join(f"echo $$ > {shlex.quote(f)}" for f in files)
                lines.append(f"{join} || {fail}")
        if loopback:
            # Loopback up, for libraries that talk to themselves over 127.0.0.1; not essential.
            lines.append(f"{shlex.quote(str(iso.ip))} link set lo up 2>/dev/null &")
        if fstab:
            lines.append(
                f"{shlex.quote(str(iso.mount))} -a --fstab {shlex.quote(str(fstab_path))} || {fail}"
            )
        if cgroup is not None and (fstab or loopback):
            lines.append(f'wait "$joined" || {fail}')
            # The candidate must not inherit a way to move itself out.
            lines.append("exec " + " ".join(f"{fd}>&-" for fd in fds))
        if loopback:
            lines.append("wait")
        script = "".join(line + "\n" for line in lines)
        drop = []
        if iso.setpriv:
            caps = ",".join(f"-{c}" for c in DROPPED_CAPABILITIES)
            drop = [iso.setpriv, "--no-new-privs", "--bounding-set", caps, "--"]
        if script and iso.shell:
            exec_line = 'exec "$@"' if not drop else f'exec {shlex.join(drop)} "$@"'
            argv = [*prefix, iso.shell, "-c", script + exec_line, "gome-sandbox", *command]
        else:
            argv = [*prefix, *drop, *command]
        return argv, fstab

    def _env(self, request: ExecutionRequest, ws: Path, marker: str) -> dict[str, str]:
        try:
            env = scrubbed_environment(os.environ, dict(request.env))
        except ValueError as exc:
            raise _BadRequest(str(exc)) from None
        share = request.limits.cpus or _available_cpus()
        threads = self.config.threads or max(1, math.floor(share))
        for var in THREAD_VARIABLES:
            env.setdefault(var, str(threads))
        env["TMPDIR"] = str(ws / "working")
        env[MARKER_VARIABLE] = marker
        python = self._python()
        if python:
            # `python`, `pip` in the candidate's subprocesses are the configured interpreter's.
            bindir = str(Path(python).parent)
            rest = [p for p in env.get("PATH", "").split(os.pathsep) if p and p != bindir]
            env["PATH"] = os.pathsep.join([bindir, *rest])
            venv = Path(python).parent.parent
            env.pop("VIRTUAL_ENV", None)
            env.pop("CONDA_PREFIX", None)
            if (venv / "pyvenv.cfg").exists():
                env["VIRTUAL_ENV"] = str(venv)
            elif (venv / "conda-meta").is_dir():
                env["CONDA_PREFIX"] = str(venv)
        return env

    def _python(self) -> str | None:
        python = self.config.python
        if not python:
            return sys.executable or None
        if os.sep not in python:
            return shutil.which(python) or python
        return os.path.abspath(os.path.expanduser(python))

    def _command(self, request: ExecutionRequest, env: dict[str, str], ws: Path) -> list[str]:
        if request.command is not None:
            command = [str(part) for part in request.command]
        else:
            python = self._python()
            if not python:
                raise _BadRequest("no python interpreter is configured (executor.python)")
            command = [python, Candidate.ENTRY_POINT]
        head = command[0]
        if os.sep in head:
            path = head if os.path.isabs(head) else str(ws / head)
            if not os.path.isfile(path):
                raise _BadRequest(f"cannot start {head!r}: no such file")
            if not os.access(path, os.X_OK):
                raise _BadRequest(f"cannot start {head!r}: not executable")
            command[0] = path
        else:
            found = shutil.which(head, path=env.get("PATH", ""))
            if found is None:
                raise _BadRequest(f"cannot start {head!r}: command not found on the PATH")
            command[0] = found
        return command

    def _execute(
        self,
        request: ExecutionRequest,
        argv: list[str],
        env: dict[str, str],
        ws: Path,
        cgroup: Cgroup | None,
        marker: str,
        generation: int,
        notes: list[str],
        rlimit_kb: int | None,
    ) -> ExecutionResult:
        cap = self.config.output_cap_bytes
        timeout = request.limits.timeout_s or self.config.timeout_s
        started = time.monotonic()
        try:
            proc = subprocess.Popen(
                argv,
                cwd=ws,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            raise _BadRequest(f"cannot start {argv[0]!r}: {exc.strerror or exc}") from None
        run = _Run(proc, cgroup, f"{MARKER_VARIABLE}={marker}")
        tails = (_Tail(cap), _Tail(cap))
        threads = [threading.Thread(target=run.wait, daemon=True)] + [
            threading.Thread(target=_drain, args=(stream, tail), daemon=True)
            for stream, tail in zip((proc.stdout, proc.stderr), tails, strict=True)
        ]
        for t in threads:
            t.start()
        with self._lock:
            self._running.add(run)
            if self._generation != generation or self._closed:
                run.cancelled = True  # cancel() came between the check and the launch
        if run.cancelled:
            run.kill()
        timed_out = not run.exited.wait(timeout)
        try:
            # Whether it ended or timed out, nothing of its tree outlives the run.
            run.end(0.0 if run.cancelled else self.config.kill_grace_s)
        finally:
            with self._lock:
                self._running.discard(run)
        # A process stuck in the kernel (uninterruptible I/O) cannot be reaped: do not hang on it.
        stuck = not run.exited.wait(max(30.0, self.config.kill_grace_s))
        wall = time.monotonic() - started
        for t in threads[1:]:
            t.join(timeout=5)
        result = self._result(request, run, ws, tails, wall, timed_out, notes, rlimit_kb)
        if stuck:
            error = f"the candidate's process {proc.pid} could not be killed"
            result = attrs.evolve(result, exit_code=None, signal=None, error=error)
        return result

    def _result(
        self,
        request: ExecutionRequest,
        run: _Run,
        ws: Path,
        tails: tuple[_Tail, _Tail],
        wall: float,
        timed_out: bool,
        notes: list[str],
        rlimit_kb: int | None,
    ) -> ExecutionResult:
        cap = self.config.output_cap_bytes
        code = run.proc.returncode
        sig = -code if code is not None and code < 0 else None
        stdout, stderr = tails[0].text(), tails[1].text()
        error = None
        if code == _SETUP_EXIT and _SETUP_FAILED in stderr:
            detail = stderr.replace(_SETUP_FAILED, "").strip().splitlines()
            error = f"the sandbox could not be set up: {detail[-1] if detail else 'unknown'}"
        rusage = run.rusage
        cpu = run.cgroup.cpu_seconds() if run.cgroup is not None else None
        peak = None
        if rusage is not None:
            if cpu is None:
                cpu = rusage.ru_utime + rusage.ru_stime  # type: ignore[attr-defined]
            # ru_maxrss: KiB on Linux, bytes on macOS.
            scale = 2**20 if sys.platform == "darwin" else 2**10
            peak = rusage.ru_maxrss / scale  # type: ignore[attr-defined]
        failed = code != 0
        oom = False
        if failed and not run.cancelled:
            if run.cgroup is not None and run.cgroup.memory_limited:
                oom = run.cgroup.out_of_memory()
            elif rlimit_kb is not None:
                oom = bool(_MEMORY_ERROR.search(stderr))
        return ExecutionResult(
            exit_code=None if sig is not None else code,
            signal=sig,
            timed_out=timed_out and not run.cancelled,
            out_of_memory=oom,
            cancelled=run.cancelled,
            wall_s=wall,
            cpu_s=cpu or 0.0,
            peak_memory_mb=peak,
            stdout_tail=stdout,
            stderr_tail=stderr,
            output_cap_bytes=cap,
            output_truncated=tails[0].truncated or tails[1].truncated,
            workspace=ws,
            produced=_produced(ws, request.candidate),
            error=error,
            notes=tuple(notes),
        )

    # -- ending

    def cancel(self) -> None:
        """End every run now in flight (no grace); runs started later are not affected."""
        with self._lock:
            self._generation += 1
            running = list(self._running)
            for run in running:
                run.cancelled = True
        for run in running:
            run.kill()

    def close(self) -> None:
        """Cancel what is in flight and refuse new runs; remove workspaces unless kept."""
        with self._lock:
            self._closed = True
        self.cancel()
        with self._lock:
            root, private = self._root, self._private
        if private is not None:
            shutil.rmtree(private, ignore_errors=True)
        if self._netns is not None:
            self._netns.close()
        sweep()
        if root is not None and not self.config.keep_workspaces:
            with self._lock:
                made, self._made = self._made, []
            for path in [root] if self._own_root else made:
                _remove_tree(path)


# --------------------------------------------------------------------------- helpers


def _fstab_escape(path: str) -> str:
    for char, code in (("\\", "\\134"), (" ", "\\040"), ("\t", "\\011"), ("\n", "\\012")):
        path = path.replace(char, code)
    return path


def _copy_read_only(src: Path, dst: Path) -> None:
    """Copy the public files and drop write permission (root ignores it; the copy protects)."""
    if dst.exists():
        dst.rmdir()
    shutil.copytree(src, dst, symlinks=True)
    for dirpath, _, filenames in os.walk(dst):
        for name in filenames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                os.chmod(path, stat.S_IMODE(os.lstat(path).st_mode) & ~0o222)
        os.chmod(dirpath, stat.S_IMODE(os.lstat(dirpath).st_mode) & ~0o222)


def _empty_dir(path: Path) -> None:
    _remove_tree(path)
    with contextlib.suppress(OSError):
        path.mkdir(exist_ok=True)


def _remove_tree(path: Path) -> None:
    def make_writable(func, target, _exc):  # type: ignore[no-untyped-def]
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(target), 0o700)
            os.chmod(target, 0o700)
            func(target)

    if path.is_dir() and not path.is_symlink():
        for dirpath, _, _ in os.walk(path):
            with contextlib.suppress(OSError):
                os.chmod(dirpath, 0o700)
        shutil.rmtree(path, onerror=make_writable)
    else:
        with contextlib.suppress(OSError):
            path.unlink()


def _produced(ws: Path, candidate: Candidate) -> tuple[str, ...]:
    """Files the run left outside ``input/`` and ``working/`` that the candidate did not bring."""
    own = set(candidate.files)
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(ws):
        rel_dir = os.path.relpath(dirpath, ws)
        if rel_dir == ".":
            dirnames[:] = [d for d in dirnames if d not in ("input", "working")]
        dirnames.sort()
        for name in sorted(filenames):
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            if rel not in own and "__pycache__" not in rel:
                found.append(rel)
            if len(found) >= _MAX_PRODUCED:
                return tuple(found)
    return tuple(sorted(found, key=lambda p: (not p.startswith("submission/"), p)))


def _available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _total_memory_mb() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    except (ValueError, OSError, AttributeError):
        return 0
