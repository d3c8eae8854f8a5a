"""How files travel between the caller and Ray workers that cannot see its paths.

* The input directory goes once per directory through Ray's object store as a tar archive; each
  worker machine unpacks it once into a cache keyed by the directory's fingerprint.
* The files a run produced (submission, score file) come back as a tar archive in the task's
  result and are unpacked into a workspace on the caller's machine.

A fingerprint (relative paths, sizes and modification times) tells whether a path a worker sees
holds the same files as the caller's, so a shared file system is used directly.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import os
import shutil
import tarfile
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

__all__ = [
    "cached_input",
    "fingerprint",
    "pack",
    "pack_directory",
    "unpack",
    "worker_root",
]


def fingerprint(directory: Path) -> str:
    """A digest of what ``directory`` holds: every file's relative path, size and mtime."""
    digest = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(directory):
        dirnames.sort()
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            info = os.stat(path)
            rel = os.path.relpath(path, directory)
            digest.update(f"{rel}\0{info.st_size}\0{info.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:32]


def pack_directory(directory: Path) -> bytes:
    """``directory``'s contents as an uncompressed tar archive (data moves faster than zlib)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for entry in sorted(os.listdir(directory)):
            archive.add(os.path.join(directory, entry), arcname=entry)
    return buffer.getvalue()


def pack(root: Path, relative_paths: Iterable[str]) -> bytes:
    """The files ``relative_paths`` under ``root`` as a tar archive (missing ones left out)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for rel in relative_paths:
            path = root / rel
            if path.is_file() and not path.is_symlink():
                archive.add(path, arcname=rel)
    return buffer.getvalue()


def unpack(data: bytes, target: Path) -> None:
    """Unpack an archive made by :func:`pack` or :func:`pack_directory` into ``target``.

    The ``data`` filter refuses absolute paths, ``..``, links out of ``target`` and devices.
    """
    with tarfile.open(fileobj=io.BytesIO(data), mode="r") as archive:
        archive.extractall(target, filter="data")


def worker_root(configured: str | None) -> Path:
    """Where a worker keeps workspaces and shipped inputs."""
    root = Path(configured) if configured else Path(tempfile.gettempdir()) / "gome-ray"
    root.mkdir(parents=True, exist_ok=True)
    return root


def cached_input(root: Path, digest: str, fetch: Callable[[], bytes]) -> Path:
    """The shipped input with fingerprint ``digest``, unpacked under ``root`` on first use.

    ``fetch`` gets the archive from the object store; it is called only on a cache miss. Tasks on
    one machine unpack it once between them (a file lock), and a half-unpacked copy is never used
    (it is renamed into place when complete).
    """
    cache = root / "inputs"
    cache.mkdir(parents=True, exist_ok=True)
    final = cache / digest
    if final.is_dir():
        return final
    with open(cache / f"{digest}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if final.is_dir():
                return final
            partial = Path(tempfile.mkdtemp(prefix=f"{digest}.", dir=cache))
            try:
                unpack(fetch(), partial)
                os.rename(partial, final)
            except BaseException:
                shutil.rmtree(partial, ignore_errors=True)
                raise
            return final
        finally:
            with contextlib.suppress(OSError):
                fcntl.flock(lock, fcntl.LOCK_UN)
