"""Detecting git-LFS pointer files where real data or leaderboards should be."""

from __future__ import annotations

import os
from pathlib import Path

from gome_core.competitions.errors import LFSPointerError

__all__ = ["check_not_lfs_pointer", "find_lfs_pointers", "is_lfs_pointer"]

_LFS_MAGIC = b"version https://git-lfs.github.com/spec/"
# Pointer files are ~130 bytes; anything much larger is real content.
_MAX_POINTER_SIZE = 1024


def is_lfs_pointer(path: str | os.PathLike[str]) -> bool:
    """True if ``path`` is a regular file holding a git-LFS pointer instead of its content."""
    try:
        p = Path(path)
        if not p.is_file() or p.stat().st_size > _MAX_POINTER_SIZE:
            return False
        with p.open("rb") as fh:
            return fh.read(len(_LFS_MAGIC)) == _LFS_MAGIC
    except OSError:
        return False


def check_not_lfs_pointer(path: str | os.PathLike[str], what: str = "file") -> None:
    """Raise :class:`LFSPointerError` if ``path`` is a git-LFS pointer."""
    if is_lfs_pointer(path):
        raise LFSPointerError(Path(path), what)


def find_lfs_pointers(directory: str | os.PathLike[str], limit: int = 20_000) -> list[Path]:
    """LFS pointers among the files under ``directory`` (at most ``limit`` files are looked at)."""
    found: list[Path] = []
    seen = 0
    for root, _dirs, files in os.walk(directory):
        for name in files:
            seen += 1
            if seen > limit:
                return found
            path = Path(root) / name
            if is_lfs_pointer(path):
                found.append(path)
    return found
