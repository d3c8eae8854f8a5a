"""What runs inside a Ray task: one candidate in the local executor's sandbox, on the worker.

The task builds (once per worker process and sandbox configuration) a
:class:`~gome_core.executors.local.LocalExecutor` and hands it the request, so every guarantee of
the local sandbox (tree-wide kill, memory cap, scrubbed environment, no network, read-only input)
holds on the worker. The candidate runs on a helper thread while the task's main thread watches
the executor's :class:`CancelBoard` (an actor): when the caller cancels, the task ends the
candidate's whole tree through the sandbox's own ``cancel`` and returns its cancelled result as a
normal return value (a task ended by ``ray.cancel`` could return nothing: its result would be
lost, workspace included).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
from pathlib import Path
from typing import Any

import attrs
from attrs import frozen

from gome_core.executors.local import LocalExecutor, LocalExecutorConfig
from gome_core.types import ExecutionRequest, ExecutionResult
from gome_ray.transfer import cached_input, fingerprint, pack, worker_root

__all__ = ["CancelBoard", "Job", "Outcome", "run_job", "token_file_name"]

#: How often the waiting main thread looks at the board (a local check, no call to the actor).
_POLL_S = 0.05
#: How long one watch of the board lasts before it is renewed (bounds calls left waiting there).
_WATCH_S = 30.0
#: How long a starting task waits to learn whether it was cancelled while it was queued.
_START_CHECK_S = 0.1


class CancelBoard:
    """Cancel counters of the executors of one driver, as a Ray actor (async: every task's watch
    waits at once). One actor serves every executor of the process, each under its own key.

    An executor's ``cancel()`` advances its counter; a task submitted under an older value ends
    its run.
    """

    def __init__(self) -> None:
        self._generations: dict[str, int] = {}
        self._changed: dict[str, asyncio.Event] = {}

    def current(self, key: str) -> int:
        return self._generations.get(key, 0)

    def advance(self, key: str, generation: int) -> None:
        if generation > self.current(key):
            self._generations[key] = generation
            self._changed.pop(key, asyncio.Event()).set()

    def forget(self, key: str) -> None:
        """The executor closed."""
        self._generations.pop(key, None)
        self._changed.pop(key, asyncio.Event()).set()

    async def watch(self, key: str, generation: int, timeout_s: float) -> int:
        """The counter of ``key``, once it is past ``generation`` or after ``timeout_s``."""
        if self.current(key) <= generation:
            changed = self._changed.setdefault(key, asyncio.Event())
            try:
                await asyncio.wait_for(changed.wait(), timeout_s)
            except TimeoutError:
                pass
        return self.current(key)


@frozen
class Job:
    """One candidate for a worker: the request plus what the worker needs to place its files."""

    request: ExecutionRequest
    sandbox: LocalExecutorConfig
    #: The :class:`CancelBoard` actor, the executor's key there, and its counter at submission.
    board: Any
    board_key: str
    generation: int
    #: The caller's workspace root and the token it wrote there: a worker that reads the token
    #: sees the caller's file system, and makes the workspace right there.
    workspace_root: str
    token: str
    #: ``ship``: use no caller path even where one is visible.
    ship: bool = False
    #: Fingerprint of ``request.input_dir`` on the caller (``None``: no input, or none there).
    input_digest: str | None = None
    #: ``[ObjectRef]`` of the input archive, once the caller has shipped it. Nested in a list so
    #: that Ray does not fetch it before the task starts: a worker that has it cached never does.
    input_archive: list[Any] | None = None
    worker_root: str | None = None


@frozen
class Outcome:
    """What a task sends back."""

    result: ExecutionResult | None
    #: The run's workspace is the caller's (a shared file system): nothing to copy back.
    shared: bool = False
    #: The produced files, when the workspace is the worker's own.
    produced_archive: bytes | None = None
    #: The worker cannot see the input directory: the caller must ship it and submit again.
    needs_input: bool = False
    node: str = ""


#: Sandboxes of this worker process, by configuration: kept for reuse (probe, network namespaces).
_executors: dict[LocalExecutorConfig, LocalExecutor] = {}
_executors_lock = threading.Lock()
#: Facts this worker process checked once: token files seen, input fingerprints matched.
_seen_tokens: dict[tuple[str, str], bool] = {}
_matched_inputs: dict[tuple[str, str], bool] = {}


def run_job(job: Job) -> Outcome:
    """Run ``job`` on this worker (the body of the Ray task)."""
    import ray

    node = _node_id()
    cap = job.sandbox.output_cap_bytes
    # Cancelled while it waited for resources? Not worth holding the candidate up to find out.
    current = job.board.current.remote(job.board_key)
    if ray.wait([current], timeout=_START_CHECK_S)[0] and ray.get(current) > job.generation:
        return Outcome(ExecutionResult.not_run(output_cap_bytes=cap, cancelled=True))
    try:
        shared = not job.ship and _sees_caller(job.workspace_root, job.token)
        request = job.request
        if request.input_dir is not None and job.input_digest is not None:
            input_dir = _local_input(job, Path(request.input_dir))
            if input_dir is None:
                return Outcome(result=None, needs_input=True, node=node)
            request = attrs.evolve(request, input_dir=input_dir)
        root = job.workspace_root if shared else str(worker_root(job.worker_root) / "workspaces")
        executor = _executor(attrs.evolve(job.sandbox, workspace_root=root))
        result = _run_cancellable(executor, request, job)
    except KeyboardInterrupt:  # ray.cancel before the candidate started
        return Outcome(ExecutionResult.not_run(output_cap_bytes=cap, cancelled=True))
    if shared or result.workspace is None:
        return Outcome(result=result, shared=shared, node=node)
    workspace = Path(result.workspace)
    archive = pack(workspace, result.produced)
    # Its files travel back to the caller; the worker keeps no copy.
    shutil.rmtree(workspace, ignore_errors=True)
    return Outcome(result=result, produced_archive=archive, node=node)


def _run_cancellable(
    executor: LocalExecutor, request: ExecutionRequest, job: Job
) -> ExecutionResult:
    import ray

    box: list[ExecutionResult] = []
    failure: list[BaseException] = []

    def target() -> None:
        try:
            box.append(executor.run(request))
        except BaseException as exc:  # a bug in the sandbox: re-raised in the task
            failure.append(exc)

    runner = threading.Thread(target=target, name="gome-ray-candidate", daemon=True)
    runner.start()
    watch = job.board.watch.remote(job.board_key, job.generation, _WATCH_S)
    try:
        while runner.is_alive():
            runner.join(_POLL_S)
            if ray.wait([watch], timeout=0)[0]:
                if ray.get(watch) > job.generation:
                    break
                watch = job.board.watch.remote(job.board_key, job.generation, _WATCH_S)
    except KeyboardInterrupt:  # a ray.cancel without force (from outside this executor)
        pass
    # A cancel that came before the run registered itself would miss it: repeat until done.
    while runner.is_alive():
        executor.cancel()
        runner.join(_POLL_S)
    if failure:
        raise failure[0]
    return box[0]


def _executor(config: LocalExecutorConfig) -> LocalExecutor:
    with _executors_lock:
        executor = _executors.get(config)
        if executor is None:
            executor = _executors[config] = LocalExecutor(config)
        return executor


def _sees_caller(root: str, token: str) -> bool:
    key = (root, token)
    if key not in _seen_tokens:
        try:
            _seen_tokens[key] = (Path(root) / token_file_name(token)).read_text() == token
        except OSError:
            _seen_tokens[key] = False
    return _seen_tokens[key]


def token_file_name(token: str) -> str:
    """The name of the file, in the caller's workspace root, that holds ``token``."""
    return f".gome-ray-{token[:12]}"


def _local_input(job: Job, path: Path) -> Path | None:
    """The input directory as this worker can read it, or ``None`` when it must be shipped."""
    digest = job.input_digest or ""
    if not job.ship:
        key = (str(path), digest)
        if key not in _matched_inputs:
            _matched_inputs[key] = path.is_dir() and fingerprint(path) == digest
        if _matched_inputs[key]:
            return path
    if not job.input_archive:
        return None
    import ray

    ref = job.input_archive[0]
    return cached_input(worker_root(job.worker_root), digest, lambda: ray.get(ref))


def _node_id() -> str:
    try:
        import ray

        return ray.get_runtime_context().get_node_id()
    except Exception:  # outside a Ray worker (direct calls in tests)
        return os.uname().nodename
