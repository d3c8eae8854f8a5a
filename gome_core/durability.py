"""Making files, and the directory entries that name them, survive a power cut.

The journal is synced before the engine goes on; what it names (a node's folder, the ``best``
link, a new journal file) is synced before it is named. Directories are synced on POSIX systems;
where a file system cannot sync one, the refusal is ignored, while a failing disk's errors are not.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

__all__ = ["sync_dir", "sync_tree"]

# What a file system that cannot sync a directory answers (the errors PostgreSQL ignores too).
_CANNOT_SYNC_DIRS = {
    errno.EINVAL,
    errno.ENOTSUP,
    errno.EOPNOTSUPP,
    errno.EBADF,
    errno.EACCES,
    errno.EPERM,
}


def sync_dir(path: str | Path) -> None:
    """Make the entries of folder ``path`` (a file created or renamed in it) durable."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # a platform that cannot open a folder (Windows): nothing to sync
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in _CANNOT_SYNC_DIRS:
            raise
    finally:
        os.close(fd)


def sync_tree(root: str | Path) -> None:
    """Sync every file and folder under ``root``, deepest first."""
    for folder, _dirs, files in os.walk(root, topdown=False):
        for name in files:
            with open(os.path.join(folder, name), "rb+") as f:  # writable: Windows needs it
                os.fsync(f.fileno())
        sync_dir(folder)
