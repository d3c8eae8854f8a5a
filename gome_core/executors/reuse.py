"""Reuse of identical runs: a candidate that repeats an earlier one byte for byte is not run again.

Optimizers propose the same program more often than one would think: a tree search's improvement
lands on a sibling's code, a trace re-tries an edit that changes nothing the program reads, a
debug round gives back the code it was handed. Candidates are seeded (``GOME_SEED``), so running
the same files with the same environment on the same input gives the same outcome, and the second
run only spends time. :class:`ReusingExecutor` answers such a request with the earlier result.

Two requests are the same run when their files, command, environment, limits, hidden paths and
input files (path, size and modification time of each) are equal; the label and the owner only
name the workspace and place the run, so they do not count. Only runs that ended on their own are
reused (an exit code, even a failing one, is reproducible; a time-out, a memory kill, a cancel, a
signal or an executor error may not be), and only while their workspace still holds what they
produced. A request identical to one still running waits for it and shares its result.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from concurrent import futures
from pathlib import Path

import attrs

from gome_core.executors.wrapper import ExecutorWrapper
from gome_core.interfaces import Executor
from gome_core.logs import get_logger
from gome_core.types import Candidate, ExecutionRequest, ExecutionResult

__all__ = ["ReusingExecutor", "input_fingerprint", "run_key"]

log = get_logger(__name__)


class ReusingExecutor(ExecutorWrapper):
    """Wraps an executor; answers a repeated run with the earlier run's result.

    The answer is the earlier :class:`ExecutionResult` (its workspace, output and timings) with
    ``reused_from`` set to the id of the candidate that ran. ``runs`` and ``reused`` count the
    runs started and the requests answered without one.
    """

    def __init__(self, inner: Executor) -> None:
        super().__init__(inner)
        self.runs = 0
        self.reused = 0
        self._lock = threading.Lock()
        self._results: dict[str, futures.Future[ExecutionResult | None]] = {}

    def run(self, request: ExecutionRequest) -> ExecutionResult:
        if not isinstance(request.candidate, Candidate):
            return self.inner.run(request)  # malformed: the executor says what is wrong
        key = run_key(request, input_fingerprint(request.input_dir))
        with self._lock:
            shared = self._results.get(key)
            if shared is None:
                mine: futures.Future[ExecutionResult | None] = futures.Future()
                self._results[key] = mine
        if shared is None:
            return self._run(request, key, mine)
        # An identical run ended, or is running: wait for it. One that ends badly is shared
        # only with the requests that waited for it (a cancel ends them all alike).
        result = shared.result()
        if result is None or not _still_there(result):
            self._forget(key, shared)  # it failed to run, or its files are gone: run anew
            return self.run(request)
        with self._lock:
            self.reused += 1
        log.debug("run reused", candidate=request.candidate.id, reused_from=result.reused_from)
        return result

    def _run(
        self, request: ExecutionRequest, key: str, mine: futures.Future[ExecutionResult | None]
    ) -> ExecutionResult:
        with self._lock:
            self.runs += 1
        try:
            result = self.inner.run(request)
        except BaseException:
            self._forget(key, mine)
            mine.set_result(None)
            raise
        if not _reproducible(result):
            self._forget(key, mine)
        mine.set_result(attrs.evolve(result, reused_from=request.candidate.id))
        return result

    def _forget(self, key: str, entry: futures.Future[ExecutionResult | None]) -> None:
        with self._lock:
            if self._results.get(key) is entry:
                del self._results[key]


def run_key(request: ExecutionRequest, input_fingerprint: str = "") -> str:
    """The identity of a run: equal keys, the same program on the same input and settings."""
    described = {
        "files": sorted(request.candidate.files.items()),
        "command": list(request.command) if request.command is not None else None,
        "env": sorted(request.env.items()),
        "limits": attrs.asdict(request.limits),
        "hidden": sorted(str(p) for p in request.hidden),
        "input": [str(request.input_dir) if request.input_dir else None, input_fingerprint],
    }
    blob = json.dumps(described, sort_keys=True, ensure_ascii=False, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


def input_fingerprint(root: Path | None) -> str:
    """Path, size and modification time of every file under ``root``: cheap, and a changed
    file changes it (reading the bytes of a large data set for every run would not be)."""
    digest = hashlib.sha256()
    if root is None:
        return ""
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            path = Path(folder, name)
            try:
                stat = path.stat()
            except OSError:
                continue
            rel = path.relative_to(root).as_posix()
            digest.update(f"{rel}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _reproducible(result: ExecutionResult) -> bool:
    """Ended on its own with an exit code: the same program would end the same way."""
    return result.outcome in ("ok", "failed") and result.exit_code is not None


def _still_there(result: ExecutionResult) -> bool:
    if result.workspace is None:
        return not result.produced
    return all((result.workspace / rel).exists() for rel in result.produced)
