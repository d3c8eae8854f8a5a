"""What the local executor can use on this machine to contain a candidate, probed once.

:func:`probe` tries each isolation feature for real (a cgroup made and joined, a namespace entered,
a read-only bind mount written to) and caches the answer for the process, so a run pays nothing
for it. Everything here degrades: a feature that does not work is ``None``/``False`` and the
executor falls back (and says so in each result's ``notes``).

The helpers below act on a candidate's process tree: a per-candidate cgroup (v2 for tracking and
``cgroup.kill``, a memory controller where one is delegated, or the v1 memory hierarchy), and, where
no cgroup is writable, a scan of ``/proc/*/environ`` for the candidate's marker variable.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from attrs import frozen

from gome_core.logs import get_logger

__all__ = ["Cgroup", "Isolation", "NetnsPool", "marked_pids", "probe", "signal_pids", "sweep"]

log = get_logger(__name__)

#: Capabilities a root candidate loses (bounding set): with them it could remount ``input/``
#: read-write, leave its namespaces, reach the host's mounts through ``/proc/PID/root``, raise its
#: own limits, make device nodes or load kernel modules.
DROPPED_CAPABILITIES = (
    "sys_admin",
    "sys_ptrace",
    "sys_module",
    "sys_rawio",
    "sys_resource",
    "sys_boot",
    "sys_time",
    "mknod",
    "net_admin",
)

_PROBE_TIMEOUT_S = 10.0


@frozen
class Isolation:
    """Isolation features that work here. Paths are absolute; ``None``/``False``: unavailable."""

    platform: str = sys.platform
    shell: str | None = None  # a POSIX shell for the launch chain
    rlimit: str | None = None  # the shell's `ulimit` flag that caps memory: "v" (AS) or "d" (DATA)
    proc_environ: bool = False  # /proc/PID/environ readable: the marker scan works
    unshare: str | None = None
    user_namespace: bool = False  # namespaces need a user namespace (gome is not root)
    network_namespace: bool = False
    mount_namespace: bool = False
    mount: str | None = None
    ip: str | None = None  # brings the loopback interface up in a new network namespace
    nsenter: str | None = None  # enters a kept network namespace (see NetnsPool)
    setpriv: str | None = None  # drops capabilities from the bounding set
    cgroup2: str | None = None  # the cgroup (v2) under which per-candidate cgroups are made
    cgroup2_mount: str | None = None
    cgroup2_kill: bool = False
    cgroup2_memory: bool = False
    cgroup1_memory: str | None = None  # the same in the v1 memory hierarchy
    cgroup1_memory_mount: str | None = None

    @property
    def tracks_tree(self) -> bool:
        """Whether a cgroup holds every descendant, also those that leave the process group."""
        return self.cgroup2 is not None or self.cgroup1_memory is not None

    @property
    def memory_cgroup(self) -> bool:
        return self.cgroup2_memory or self.cgroup1_memory is not None

    def describe(self) -> dict[str, str]:
        """One line per guarantee: how it is provided here (for docs, logs and benchmarks)."""
        if self.cgroup2 and self.cgroup2_kill:
            tree = "cgroup v2 (cgroup.kill)"
        elif self.tracks_tree:
            tree = "cgroup (member list)"
        elif self.proc_environ:
            tree = "process group + environment marker scan of /proc"
        else:
            tree = "process group only"
        if self.cgroup2_memory:
            memory = "cgroup v2 memory.max"
        elif self.cgroup1_memory:
            memory = "cgroup v1 memory.limit_in_bytes"
        elif self.rlimit:
            memory = f"RLIMIT_{'AS' if self.rlimit == 'v' else 'DATA'} per process"
        else:
            memory = "not enforced"
        return {
            "process tree": tree,
            "memory cap": memory,
            "network": "network namespace" if self.network_namespace else "not isolated",
            "input": "read-only bind mount" if self.mount_namespace else "copy",
            "capabilities": "bounding set reduced (setpriv)" if self.setpriv else "unchanged",
            "user namespace": "yes" if self.user_namespace else "no",
        }


_cache: Isolation | None = None
_cache_lock = threading.Lock()


def probe(*, refresh: bool = False) -> Isolation:
    """The isolation features that work here (probed on first call, then cached)."""
    global _cache
    with _cache_lock:
        if _cache is None or refresh:
            try:
                _cache = _probe()
            except Exception:  # a probe bug must not stop candidates from running
                log.warning("isolation probe failed; running without isolation", exc_info=True)
                _cache = Isolation(shell=shutil.which("sh"))
            log.debug("isolation probed", **_cache.describe())
        return _cache


def _ok(argv: list[str], **kwargs: object) -> bool:
    try:
        done = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=_PROBE_TIMEOUT_S,
            check=False,
            **kwargs,  # type: ignore[call-overload]
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def _probe() -> Isolation:
    shell = shutil.which("sh") or ("/bin/sh" if os.path.exists("/bin/sh") else None)
    if shell is None:
        return Isolation()
    rlimit = next((f for f in ("v", "d") if _ok([shell, "-c", f"ulimit -{f} 4194304"])), None)
    if not sys.platform.startswith("linux"):
        return Isolation(shell=shell, rlimit=rlimit)

    # sbin is not on every user's PATH, but its tools work for them too.
    search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin", "/usr/bin", "/bin"])
    found = {
        tool: shutil.which(tool, path=search)
        for tool in ("unshare", "mount", "ip", "setpriv", "nsenter")
    }
    proc_environ = _readable(f"/proc/{os.getpid()}/environ")
    cg2, cg2_mount, cg1, cg1_mount = _cgroup_dirs()
    cg2_kill = cg2_memory = False
    if cg2 is not None:
        cg2, cg2_kill, cg2_memory = _probe_cgroup2(shell, cg2)
    if cg1 is not None and not cg2_memory:
        cg1 = _probe_cgroup1(shell, cg1)
    else:
        cg1 = None

    unshare, userns, netns, mountns, ip, setpriv = found["unshare"], False, False, False, None, None
    if unshare is not None:
        base = [unshare]
        if os.geteuid() != 0:
            userns = _ok([unshare, "--user", "--map-root-user", "true"])
            base = [unshare, "--user", "--map-root-user"] if userns else []
        if base:
            if found["ip"] and _ok([*base, "--net", found["ip"], "link", "set", "lo", "up"]):
                netns, ip = True, found["ip"]
            else:
                netns = _ok([*base, "--net", "true"])
            if found["mount"]:
                mountns = _probe_mount(base, shell, found["mount"])
        if found["setpriv"]:
            drop = ",".join(f"-{c}" for c in DROPPED_CAPABILITIES)
            argv = [found["setpriv"], "--no-new-privs", "--bounding-set", drop, "true"]
            if os.geteuid() != 0 and userns:
                argv = [unshare, "--user", "--map-root-user", *argv]
            if (os.geteuid() == 0 or userns) and _ok(argv):
                setpriv = found["setpriv"]
    if not (netns or mountns or (userns and setpriv)):
        unshare, userns = None, False
    return Isolation(
        shell=shell,
        rlimit=rlimit,
        proc_environ=proc_environ,
        unshare=unshare,
        user_namespace=userns,
        network_namespace=netns,
        mount_namespace=mountns,
        mount=found["mount"] if mountns else None,
        ip=ip,
        nsenter=found["nsenter"] if netns else None,
        setpriv=setpriv,
        cgroup2=cg2,
        cgroup2_mount=cg2_mount if cg2 else None,
        cgroup2_kill=cg2_kill,
        cgroup2_memory=cg2_memory,
        cgroup1_memory=cg1,
        cgroup1_memory_mount=cg1_mount if cg1 else None,
    )


def _readable(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            fh.read(1)
    except OSError:
        return False
    return True


def _cgroup_dirs() -> tuple[str | None, str | None, str | None, str | None]:
    """This process's own v2 cgroup and v1 memory cgroup directories, with their mount points."""
    try:
        mountinfo = Path("/proc/self/mountinfo").read_text().splitlines()
        own = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None, None, None, None
    v2_path = v1_path = None
    for line in own:
        hier, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if hier == "0" and controllers == "":
            v2_path = path
        elif "memory" in controllers.split(","):
            v1_path = path
    v2 = v2_mount = v1 = v1_mount = None
    for line in mountinfo:
        fields = line.split()
        if "-" not in fields:
            continue
        sep = fields.index("-")
        root, point = _unescape(fields[3]), _unescape(fields[4])
        fstype, options = fields[sep + 1], fields[sep + 3] if len(fields) > sep + 3 else ""
        if fstype == "cgroup2" and v2 is None and v2_path is not None:
            v2_mount, v2 = point, _inside(point, root, v2_path)
        elif fstype == "cgroup" and "memory" in options.split(",") and v1_path is not None:
            v1_mount, v1 = point, _inside(point, root, v1_path)
    return v2, v2_mount, v1, v1_mount


def _unescape(field: str) -> str:
    return (
        field.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
    )


def _inside(mount_point: str, mount_root: str, path: str) -> str | None:
    """Where cgroup ``path`` lies under a mount of the hierarchy rooted at ``mount_root``."""
    if mount_root == "/":
        rel = path
    elif path == mount_root or path.startswith(mount_root.rstrip("/") + "/"):
        rel = path[len(mount_root) :]
    else:
        return None
    full = os.path.normpath(os.path.join(mount_point, rel.lstrip("/")))
    return full if os.path.isdir(full) else None


def _probe_cgroup2(shell: str, parent: str) -> tuple[str | None, bool, bool]:
    try:
        probe_dir = tempfile.mkdtemp(prefix="gome-probe-", dir=parent)
    except OSError:
        return None, False, False
    try:
        procs = os.path.join(probe_dir, "cgroup.procs")
        if not _ok([shell, "-c", 'echo $$ > "$1"', "sh", procs]):
            return None, False, False
        kill = os.path.exists(os.path.join(probe_dir, "cgroup.kill"))
        try:
            controllers = Path(probe_dir, "cgroup.controllers").read_text().split()
        except OSError:
            controllers = []
        memory = "memory" in controllers and os.access(
            os.path.join(probe_dir, "memory.max"), os.W_OK
        )
        return parent, kill, memory
    finally:
        _rmdir(probe_dir)


def _probe_cgroup1(shell: str, parent: str) -> str | None:
    try:
        probe_dir = tempfile.mkdtemp(prefix="gome-probe-", dir=parent)
    except OSError:
        return None
    try:
        limit = os.path.join(probe_dir, "memory.limit_in_bytes")
        try:
            Path(limit).write_text(str(1 << 30))
        except OSError:
            return None
        procs = os.path.join(probe_dir, "cgroup.procs")
        return parent if _ok([shell, "-c", 'echo $$ > "$1"', "sh", procs]) else None
    finally:
        _rmdir(probe_dir)


def _probe_mount(base: list[str], shell: str, mount: str) -> bool:
    """Whether a read-only bind mount in a new mount namespace works and holds (also for root)."""
    with tempfile.TemporaryDirectory(prefix="gome-probe-") as tmp:
        src, dst = Path(tmp, "src"), Path(tmp, "dst")
        src.mkdir()
        dst.mkdir()
        script = (
            f'"{mount}" --bind -o ro "$1" "$2" && ! (: > "$2/written") 2>/dev/null '
            '&& [ ! -e "$1/written" ]'
        )
        ok = _ok([*base, "--mount", shell, "-c", script, "sh", str(src), str(dst)])
        return ok and not (src / "written").exists()


def _rmdir(path: str) -> None:
    with contextlib.suppress(OSError):
        os.rmdir(path)


# --------------------------------------------------------------------------- cgroups


class Cgroup:
    """One candidate's cgroup(s): made before the launch, joined by the launch chain, removed after.

    Holds a v2 cgroup (tracking, ``cgroup.kill``, and memory where delegated) and/or a v1 memory
    cgroup. Every method tolerates a vanished or unwritable file: the caller degrades.
    """

    def __init__(self, iso: Isolation, name: str, memory_bytes: int | None) -> None:
        if _stale:
            sweep()
        self.dirs: list[str] = []
        self.v2: str | None = None
        self.v1_memory: str | None = None
        self.memory_limited = False
        self._v2_memory = False
        if iso.cgroup2:
            self.v2 = self._make(iso.cgroup2, name)
            if self.v2 and iso.cgroup2_memory and memory_bytes:
                self.memory_limited = self._v2_memory = self._write(
                    self.v2, "memory.max", memory_bytes
                )
                self._write(self.v2, "memory.swap.max", 0)
                self._write(self.v2, "memory.oom.group", 1)
        if iso.cgroup1_memory and not (self.v2 and iso.cgroup2_memory):
            self.v1_memory = self._make(iso.cgroup1_memory, name)
            if self.v1_memory and memory_bytes:
                self.memory_limited = self._write(
                    self.v1_memory, "memory.limit_in_bytes", memory_bytes
                )
                # Without this the tree could swap its way past the cap.
                self._write(self.v1_memory, "memory.memsw.limit_in_bytes", memory_bytes)
        self.has_kill = bool(self.v2) and os.path.exists(os.path.join(self.v2, "cgroup.kill"))

    def _make(self, parent: str, name: str) -> str | None:
        path = os.path.join(parent, name)
        try:
            os.mkdir(path)
        except OSError as exc:
            log.warning("cannot make a cgroup; degrading", path=path, error=str(exc))
            return None
        self.dirs.append(path)
        return path

    @staticmethod
    def _write(directory: str, name: str, value: int) -> bool:
        try:
            with open(os.path.join(directory, name), "w") as fh:
                fh.write(str(value))
        except OSError:
            return False
        return True

    @property
    def procs_files(self) -> list[str]:
        """The ``cgroup.procs`` files the launch chain writes its own PID into."""
        return [os.path.join(d, "cgroup.procs") for d in self.dirs]

    def pids(self) -> set[int]:
        found: set[int] = set()
        for procs in self.procs_files:
            try:
                found.update(int(line) for line in Path(procs).read_text().split())
            except (OSError, ValueError):
                continue
        return found

    def kill(self) -> None:
        """SIGKILL every member at once (v2 ``cgroup.kill``), else one by one."""
        if self.has_kill and self.v2 and self._write(self.v2, "cgroup.kill", 1):
            return
        signal_pids(self.pids(), signal.SIGKILL)

    def out_of_memory(self) -> bool:
        """Whether the kernel's OOM killer acted in this cgroup (the cap was hit)."""
        if self.v2 and self._v2_memory:
            return _counter(os.path.join(self.v2, "memory.events"), "oom_kill") > 0
        if self.v1_memory:
            return _counter(os.path.join(self.v1_memory, "memory.oom_control"), "oom_kill") > 0
        return False

    def cpu_seconds(self) -> float | None:
        """CPU time of the whole tree, orphans included (v2 ``cpu.stat``), if known."""
        if self.v2:
            usec = _counter(os.path.join(self.v2, "cpu.stat"), "usage_usec", default=-1)
            if usec >= 0:
                return usec / 1e6
        return None

    def remove(self, wait_s: float = 0.2) -> None:
        """Remove the cgroups. One still held by processes the kernel has killed but their parent
        (often init) has not reaped yet is removed later (:func:`sweep`), not waited for."""
        deadline = time.monotonic() + wait_s
        for path in reversed(self.dirs):
            while not _try_rmdir(path):
                if time.monotonic() > deadline:
                    _defer(path)
                    break
                time.sleep(0.01)
        self.dirs.clear()


_stale: set[str] = set()
_stale_lock = threading.Lock()
_sweeper: threading.Thread | None = None


def _defer(path: str) -> None:
    """Remove ``path`` later: a background thread retries for a minute, with back-off."""
    global _sweeper
    with _stale_lock:
        _stale.add(path)
        if _sweeper is not None and _sweeper.is_alive():
            return
        _sweeper = threading.Thread(
            target=_sweep_for_a_while, name="gome-cgroup-sweep", daemon=True
        )
        _sweeper.start()


def _sweep_for_a_while(limit_s: float = 60.0) -> None:
    delay, deadline = 0.25, time.monotonic() + limit_s
    while time.monotonic() < deadline:
        time.sleep(delay)
        if not sweep():
            return
        delay = min(delay * 2, 8.0)


def _try_rmdir(path: str) -> bool:
    try:
        os.rmdir(path)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return True


def sweep() -> int:
    """Remove the empty cgroups left by earlier runs; returns how many are still held."""
    with _stale_lock:
        for path in sorted(_stale, reverse=True):  # children before parents
            if _try_rmdir(path):
                _stale.discard(path)
        if _stale:
            log.debug("cgroups still held by unreaped processes", count=len(_stale))
        return len(_stale)


@atexit.register
def _sweep_at_exit(limit_s: float = 3.0) -> None:
    # init reaps killed orphans within a second or two; their cgroups can go after that.
    deadline = time.monotonic() + limit_s
    while sweep() and time.monotonic() < deadline:
        time.sleep(0.1)


def _counter(path: str, key: str, default: int = 0) -> int:
    try:
        for line in Path(path).read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except (OSError, ValueError):
        pass
    return default


# --------------------------------------------------------------------------- network namespaces


class NetnsPool:
    """Network namespaces (loopback up) kept for reuse, one per candidate running at once.

    Making a namespace and tearing it down for each candidate costs the kernel more than the rest
    of its launch. A kept one is held by a small helper process (a shell waiting on a pipe from
    this process, so it ends with it) and entered with ``nsenter --target PID``; the helper stays
    this process's unreaped child, so its PID cannot be taken by another process. A candidate's
    whole tree is dead before its namespace is handed to the next one. ``acquire`` returns
    ``None`` where none can be made: the caller then makes a fresh namespace per candidate.
    """

    def __init__(self, iso: Isolation) -> None:
        self._iso = iso
        self._lock = threading.Lock()
        self._idle: list[subprocess.Popen[bytes]] = []
        self._all: list[subprocess.Popen[bytes]] = []
        self._broken = not (iso.unshare and iso.nsenter and iso.network_namespace and iso.shell)

    def acquire(self) -> subprocess.Popen[bytes] | None:
        """A helper holding a namespace for one candidate (its ``pid`` is nsenter's target)."""
        with self._lock:
            while self._idle:
                helper = self._idle.pop()
                if helper.poll() is None:
                    return helper
                self._all.remove(helper)
            if self._broken:
                return None
        helper = self._make()
        with self._lock:
            if helper is None:
                self._broken = True
            else:
                self._all.append(helper)
        return helper

    def release(self, helper: subprocess.Popen[bytes]) -> None:
        with self._lock:
            if helper in self._all:
                self._idle.append(helper)

    def discard(self, helper: subprocess.Popen[bytes]) -> None:
        """Drop a helper whose namespace could not be entered."""
        with self._lock:
            if helper in self._all:
                self._all.remove(helper)
        self._end(helper)

    def close(self) -> None:
        with self._lock:
            helpers, self._all, self._idle = self._all, [], []
        for helper in helpers:
            self._end(helper)

    @staticmethod
    def _end(helper: subprocess.Popen[bytes]) -> None:
        with contextlib.suppress(OSError, ValueError):
            helper.stdin.close()  # type: ignore[union-attr]
        try:
            helper.wait(timeout=2)
        except subprocess.TimeoutExpired:
            helper.kill()
            helper.wait()

    def _make(self) -> subprocess.Popen[bytes] | None:
        iso = self._iso
        argv = [str(iso.unshare)]
        if iso.user_namespace:
            argv += ["--user", "--map-root-user"]
        lo_up = f"{iso.ip} link set lo up 2>/dev/null; " if iso.ip else ""
        argv += ["--net", "--", str(iso.shell), "-c", f"{lo_up}echo ready; read _"]
        try:
            helper = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError:
            return None
        assert helper.stdout is not None
        try:
            ready = helper.stdout.readline().strip() == b"ready"
            helper.stdout.close()
            # Never hand out this process's own namespace by mistake.
            ours = os.readlink("/proc/self/ns/net")
            if not ready or os.readlink(f"/proc/{helper.pid}/ns/net") == ours:
                raise OSError("the helper did not enter a new network namespace")
        except OSError as exc:
            log.warning("cannot keep a network namespace; making one per candidate", error=str(exc))
            self._end(helper)
            return None
        return helper


# --------------------------------------------------------------------------- processes


def marked_pids(marker: bytes, exclude: Iterable[int] = ()) -> set[int]:
    """PIDs whose environment carries ``marker`` (``NAME=value``), read from ``/proc``.

    A process can only hide from this by exec'ing with a cleared environment; it is the fallback
    where no cgroup is writable.
    """
    skip = set(exclude) | {os.getpid()}
    found: set[int] = set()
    try:
        entries = os.listdir("/proc")
    except OSError:
        return found
    for entry in entries:
        if not entry.isdigit() or int(entry) in skip:
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as fh:
                environ = fh.read()
        except OSError:
            continue
        if marker in environ.split(b"\0"):
            found.add(int(entry))
    return found


def signal_pids(pids: Iterable[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
