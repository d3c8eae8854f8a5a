"""The ``ray`` executor: each candidate is a Ray task that runs it in the local sandbox.

The caller's side (this module) turns a request into a Ray task with resource requests, waits for
it, and hands back an :class:`~gome_core.types.ExecutionResult` whose ``workspace`` is on the
caller's machine. The worker's side (:mod:`gome_ray.worker`) runs the candidate through a
:class:`~gome_core.executors.local.LocalExecutor`, so the local sandbox's guarantees hold there.

Files: a worker that can see the caller's workspace root (the same machine, or a shared file
system; it checks for a token file the executor writes there) makes the workspace right there,
and uses the input directory in place when it sees the same files. Elsewhere the input directory
is shipped once through the object store and cached on the worker's machine, and the produced
files come back into a workspace on the caller's machine (scratch in ``working/`` stays behind).

Cancelling: ``cancel()`` advances the executor's cancel board (a small actor every task watches);
each task in flight ends its candidate's process tree through the sandbox's own ``cancel`` and
returns a cancelled result, and tasks still waiting for resources return at once when they start.
A task that has not ended ``cancel_grace_s`` later is force-cancelled (``ray.cancel(force=True)``),
which kills its worker process.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs

from gome_core.interfaces import Executor
from gome_core.logs import get_logger
from gome_core.types import Candidate, ExecutionRequest, ExecutionResult
from gome_ray.config import RayExecutorConfig
from gome_ray.session import RaySession, live_nodes, unschedulable
from gome_ray.transfer import fingerprint, pack_directory, unpack
from gome_ray.worker import CancelBoard, Job, Outcome, run_job, token_file_name

__all__ = ["RayExecutor"]

log = get_logger(__name__)

#: How often a waiting run checks whether its cancel must be sent or escalated.
_POLL_S = 0.25
_RESERVED_DIRS = ("input", "working", "submission")
#: Seconds the cluster's node resources are trusted before they are read again.
_NODES_TTL_S = 30.0


_boards: dict[str, Any] = {}
_boards_lock = threading.Lock()


def _cancel_board(ray: ModuleType) -> Any:
    """The process's :class:`CancelBoard` actor on the connected cluster (made on first use)."""
    context = ray.get_runtime_context()
    cluster = f"{getattr(context, 'gcs_address', '')}/{context.get_job_id()}"
    with _boards_lock:
        if cluster not in _boards:
            # No CPU: it only counts, and must never wait behind the candidates' resources.
            _boards[cluster] = ray.remote(num_cpus=0)(CancelBoard).remote()
        return _boards[cluster]


class _Flight:
    """One task in flight, and when it was asked to stop."""

    def __init__(self, generation: int) -> None:
        self.generation = generation
        self.ref: Any = None
        self.cancel_requested_at: float | None = None
        self.forced = False

    def force_if_late(self, ray: ModuleType, grace_s: float) -> None:
        """Force-cancel the task when it has not ended ``grace_s`` after it was cancelled."""
        asked = self.cancel_requested_at
        if asked is None or self.forced or time.monotonic() - asked <= grace_s:
            return
        self.forced = True
        log.warning("force-cancelling a ray task that did not end in time", grace_s=grace_s)
        with contextlib.suppress(Exception):
            ray.cancel(self.ref, force=True)


class RayExecutor(Executor):
    """Runs candidates as Ray tasks, in the local sandbox on the workers (see the module doc)."""

    def __init__(self, config: RayExecutorConfig | None = None) -> None:
        self.config = config or RayExecutorConfig()
        self._session = RaySession(self.config.address, self.config.local_num_cpus)
        self._lock = threading.Lock()
        self._generation = 0  # bumped by cancel(): tasks submitted under an older one are cancelled
        self._closed = False
        self._flights: set[_Flight] = set()
        self._token = uuid.uuid4().hex
        self._root: Path | None = None
        self._own_root = False
        self._remote: Any = None
        self._board: Any = None
        self._nodes: tuple[list[dict[str, float]], float] = ([], -float("inf"))
        self._digests: dict[str, str | None] = {}
        self._archives: dict[str, Any] = {}
        self._archive_lock = threading.Lock()
        self._workspaces: list[Path] = []

    # -- facts

    def hardware(self) -> dict[str, object]:
        """What one candidate gets (its reservation), and what the cluster has in all."""
        ray = self._session.ray()
        total = ray.cluster_resources()
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        largest_mb = max((n["Resources"].get("memory", 0) for n in nodes), default=0) // 2**20
        memory_mb = self.config.memory_mb or self.config.sandbox.memory_mb or int(largest_mb)
        return {
            "cpus": self.config.num_cpus,
            "gpus": self.config.num_gpus,
            "memory_mb": memory_mb,
            "nodes": len(nodes),
            "cluster_cpus": total.get("CPU", 0),
            "cluster_gpus": total.get("GPU", 0),
        }

    # -- running

    def run(self, request: ExecutionRequest) -> ExecutionResult:
        """Run ``request`` as a Ray task; never raises for bad input or a failed task."""
        cap = self.config.sandbox.output_cap_bytes
        with self._lock:
            generation, closed = self._generation, self._closed
        if closed:
            return ExecutionResult.not_run("executor closed", output_cap_bytes=cap, cancelled=True)
        try:
            ray = self._session.ray()
            root = self._prepare(ray)
        except Exception as exc:  # no cluster at that address, a root that cannot be made
            where = self.config.address or "a local instance"
            log.warning("ray executor cannot start", address=where, exc_info=True)
            error = f"cannot run on Ray ({where}): {type(exc).__name__}: {exc}"
            return ExecutionResult.not_run(error, output_cap_bytes=cap)
        request = self._with_cpu_share(request)
        ship = self.config.transfer == "ship"
        input_dir = getattr(request, "input_dir", None)
        digest = self._digest(Path(input_dir)) if input_dir is not None else None
        job = Job(
            request=request,
            sandbox=self.config.sandbox,
            board=self._board,
            board_key=self._token,
            generation=generation,
            workspace_root=str(root),
            token=self._token,
            ship=ship,
            input_digest=digest,
            input_archive=[self._archive(ray, Path(input_dir))] if ship and digest else None,
            worker_root=self.config.worker_root,
        )
        unschedulable = self._unschedulable(ray, self._resources(request))
        if unschedulable:
            return ExecutionResult.not_run(unschedulable, output_cap_bytes=cap)
        outcome = self._submit(ray, job, generation)
        if isinstance(outcome, Outcome) and outcome.needs_input and input_dir is not None:
            # This worker cannot see the input: ship it (once per directory) and go again.
            job = attrs.evolve(job, input_archive=[self._archive(ray, Path(input_dir))])
            outcome = self._submit(ray, job, generation)
        if isinstance(outcome, ExecutionResult):
            return outcome
        return self._deliver(outcome, request)

    def _prepare(self, ray: ModuleType) -> Path:
        """The caller's workspace root (with the token file) and the remote function."""
        with self._lock:
            if self._root is None:
                configured = self.config.sandbox.workspace_root
                if configured:
                    root = Path(configured).resolve()
                    root.mkdir(parents=True, exist_ok=True)
                else:
                    root, self._own_root = Path(tempfile.mkdtemp(prefix="gome-ray-ws-")), True
                (root / token_file_name(self._token)).write_text(self._token)
                self._root = root
            if self._remote is None:
                # No retries: a candidate is not idempotent, and a crash is a result to report.
                self._remote = ray.remote(max_retries=0)(run_job)
            if self._board is None:
                self._board = _cancel_board(ray)
            return self._root

    def _with_cpu_share(self, request: ExecutionRequest) -> ExecutionRequest:
        """The request with its CPU share set to the reservation (the sandbox's thread caps)."""
        limits = getattr(request, "limits", None)
        if limits is None or limits.cpus:
            return request
        return attrs.evolve(request, limits=attrs.evolve(limits, cpus=self.config.num_cpus))

    def _resources(self, request: ExecutionRequest) -> dict[str, Any]:
        limits = request.limits
        options: dict[str, Any] = {
            "num_cpus": limits.cpus or self.config.num_cpus,
            "num_gpus": limits.gpus or self.config.num_gpus,
        }
        # The request's own limits come first, as for CPUs and GPUs.
        memory_mb = limits.memory_mb or self.config.memory_mb or self.config.sandbox.memory_mb
        if memory_mb:
            options["memory"] = int(memory_mb) * 2**20
        return options

    def _unschedulable(self, ray: ModuleType, options: dict[str, Any]) -> str | None:
        """Why no node of the cluster could ever run a task asking ``options``, if none could.

        Ray would keep such a task pending for good; saying so at once is kinder. Node resources
        are read again after a while, as an autoscaling cluster may have grown.
        """
        now = time.monotonic()
        with self._lock:
            nodes, read_at = self._nodes
        if now - read_at > _NODES_TTL_S:
            nodes = live_nodes(ray)
            with self._lock:
                self._nodes = (nodes, now)
        wanted = {
            "CPU": options["num_cpus"],
            "GPU": options["num_gpus"],
            "memory": options.get("memory", 0),
        }
        return unschedulable(
            nodes,
            wanted,
            what="one candidate",
            fix="lower executor.num_cpus / num_gpus / memory_mb or the request's limits, or add "
            "nodes",
        )

    def _digest(self, input_dir: Path) -> str | None:
        key = str(input_dir.resolve())
        with self._archive_lock:
            if key not in self._digests:
                # A folder that is not there is passed on as it is: the sandbox reports it.
                self._digests[key] = fingerprint(input_dir) if input_dir.is_dir() else None
            return self._digests[key]

    def _archive(self, ray: ModuleType, input_dir: Path) -> Any:
        """The input directory's archive in the object store (put once per directory)."""
        key = str(input_dir.resolve())
        with self._archive_lock:
            if key not in self._archives:
                started = time.monotonic()
                self._archives[key] = ray.put(pack_directory(input_dir))
                log.info(
                    "input shipped to the object store",
                    input_dir=key,
                    seconds=round(time.monotonic() - started, 3),
                )
            return self._archives[key]

    def _submit(self, ray: ModuleType, job: Job, generation: int) -> Outcome | ExecutionResult:
        cap = self.config.sandbox.output_cap_bytes
        flight = _Flight(generation)
        with self._lock:
            if self._closed or self._generation != generation:
                return ExecutionResult.not_run(output_cap_bytes=cap, cancelled=True)
            self._flights.add(flight)
        try:
            flight.ref = self._remote.options(**self._resources(job.request)).remote(job)
            while not ray.wait([flight.ref], timeout=_POLL_S)[0]:
                flight.force_if_late(ray, self.config.cancel_grace_s)
            return ray.get(flight.ref)
        except Exception as exc:
            return self._failed(exc, flight)
        finally:
            with self._lock:
                self._flights.discard(flight)

    def _failed(self, exc: Exception, flight: _Flight) -> ExecutionResult:
        from ray.exceptions import TaskCancelledError

        cap = self.config.sandbox.output_cap_bytes
        if isinstance(exc, TaskCancelledError) and not flight.forced:
            # Cancelled before it started: no candidate ran, nothing was left behind.
            return ExecutionResult.not_run(output_cap_bytes=cap, cancelled=True)
        if flight.forced:
            note = (
                "tree: the task did not end within cancel_grace_s and its worker was force-killed; "
                "the candidate's process tree was not ended through the sandbox"
            )
            return ExecutionResult(
                exit_code=None, cancelled=True, output_cap_bytes=cap, notes=[note]
            )
        first = (str(exc).strip().splitlines() or [""])[0]
        log.warning("ray task failed", error=first)
        error = f"the Ray task failed: {type(exc).__name__}: {first}"
        return ExecutionResult.not_run(error, output_cap_bytes=cap)

    def _deliver(self, outcome: Outcome, request: ExecutionRequest) -> ExecutionResult:
        """The result, with its workspace on this machine."""
        result = outcome.result
        assert result is not None  # only a needs_input outcome carries none, and it was resent
        if result.workspace is None:
            return result
        if outcome.shared or outcome.produced_archive is None:
            self._track(Path(result.workspace))
            return result
        try:
            workspace = self._local_workspace(Path(result.workspace).name, request.candidate)
            unpack(outcome.produced_archive, workspace)
        except OSError as exc:
            error = f"cannot copy the produced files back: {exc.strerror or exc}"
            return attrs.evolve(result, workspace=None, produced=(), error=error)
        self._track(workspace)
        return attrs.evolve(result, workspace=workspace)

    def _local_workspace(self, name: str, candidate: Candidate) -> Path:
        """A workspace on this machine laid out as the sandbox's: files, input/, working/..."""
        assert self._root is not None
        workspace = self._root / name
        suffix = 1
        while True:
            try:
                workspace.mkdir()
                break
            except FileExistsError:  # workers on other machines number their workspaces alike
                suffix += 1
                workspace = self._root / f"{name}.{suffix}"
        for rel, text in candidate.files.items():
            target = workspace / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        for sub in _RESERVED_DIRS:
            (workspace / sub).mkdir(exist_ok=True)
        return workspace

    def _track(self, workspace: Path) -> None:
        with self._lock:
            self._workspaces.append(workspace)

    # -- ending

    def cancel(self) -> None:
        """End every task in flight; tasks submitted later are not affected."""
        now = time.monotonic()
        with self._lock:
            self._generation += 1
            generation, board = self._generation, self._board
            for flight in self._flights:
                if flight.cancel_requested_at is None:
                    flight.cancel_requested_at = now
        if board is not None:
            board.advance.remote(self._token, generation)

    def close(self) -> None:
        """Cancel what is in flight, end the Ray connection this executor made, and remove the
        workspaces unless ``sandbox.keep_workspaces``."""
        with self._lock:
            self._closed = True
        self.cancel()
        deadline = time.monotonic() + self.config.cancel_grace_s + 5.0
        while time.monotonic() < deadline:
            with self._lock:
                if not self._flights:
                    break
            time.sleep(0.05)
        with self._lock:
            board, self._board = self._board, None
        if board is not None:
            with contextlib.suppress(Exception):
                board.forget.remote(self._token)
        self._session.shutdown()
        with self._lock:
            root, workspaces = self._root, list(self._workspaces)
        if root is None:
            return
        with contextlib.suppress(OSError):
            (root / token_file_name(self._token)).unlink()
        if not self.config.sandbox.keep_workspaces:
            for path in [root] if self._own_root else workspaces:
                shutil.rmtree(path, ignore_errors=True)
