"""Syncing to disk: what a file system that cannot sync folders answers is ignored, a failing
disk's errors are not, and a node that cannot be saved leaves nothing half-written behind.

A file system that refuses to sync a folder, or a failing disk, cannot be had here: the system
call answers as they would (the only fake, at the boundary)."""

import errno
import os

import pytest

from gome_core.durability import sync_dir
from gome_core.engine.rundir import RunDirectory
from gome_core.types import Candidate, Node


def _failing_fsync(code, *, on_dirs_only):
    real = os.fsync

    def fsync(fd):
        if not on_dirs_only or os.path.isdir(f"/proc/self/fd/{fd}"):
            raise OSError(code, os.strerror(code))
        return real(fd)

    return fsync


def test_a_folder_the_file_system_cannot_sync_is_no_error(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "fsync", _failing_fsync(errno.EINVAL, on_dirs_only=True))
    run = RunDirectory.create(tmp_path / "run", info={}, config_toml="")
    saved = run.save_node(Node(Candidate(id="n1", files={"main.py": "print(1)\n"})))
    run.promote("n1")
    assert (saved / "main.py").read_text() == "print(1)\n" and run.best_id() == "n1"


def test_a_failing_disk_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "fsync", _failing_fsync(errno.EIO, on_dirs_only=True))
    with pytest.raises(OSError, match="Input/output error"):
        sync_dir(tmp_path)


def test_a_node_that_cannot_be_saved_leaves_no_partial_folder(tmp_path, monkeypatch):
    run = RunDirectory.create(tmp_path / "run", info={}, config_toml="")
    monkeypatch.setattr(os, "fsync", _failing_fsync(errno.EIO, on_dirs_only=False))
    with pytest.raises(OSError):
        run.save_node(Node(Candidate(id="n1", files={"main.py": "print(1)\n"})))
    assert list((tmp_path / "run" / "nodes").iterdir()) == []
