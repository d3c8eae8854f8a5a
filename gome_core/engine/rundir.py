"""A run directory: everything a run leaves behind, laid out for people and for ``gome resume``.

::

    run.json          what ran: run id, competition, preset, gome and plugin versions, sources
    config.toml       the resolved configuration (``gome resume`` rebuilds the run from it)
    journal.jsonl     the append-only event log (see :mod:`gome_core.journal`)
    nodes/<id>/       per candidate: its files, stdout/stderr tails, scores.csv, submission.csv,
                      node.json (the evaluated node, direction included)
    best -> nodes/<id>    the current best, swapped atomically (a symlink replaced by rename)
    submission.csv    the final submission, written at the end of the run
    grading.json      the grader's report, when the competition has answers
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from gome_core.contract import SCORES, SUBMISSION, check_file_names
from gome_core.durability import sync_dir, sync_tree
from gome_core.errors import UsageError
from gome_core.journal import Journal, to_data
from gome_core.types import Node

__all__ = ["RunDirectory"]


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    sync_dir(path.parent)


class RunDirectory:
    """The files of one run. Create with :meth:`create`, reopen with :meth:`open`."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.nodes = self.path / "nodes"

    @classmethod
    def create(cls, path: str | Path, *, info: dict[str, Any], config_toml: str) -> RunDirectory:
        path = Path(path)
        if (path / "journal.jsonl").exists():
            raise UsageError(
                f"{path} already holds a run. Continue it with `gome resume {path}`, or choose "
                f"another --run-dir."
            )
        path.mkdir(parents=True, exist_ok=True)
        run = cls(path)
        run.nodes.mkdir(exist_ok=True)
        _atomic_write(path / "run.json", json.dumps(info, indent=2, default=str))
        _atomic_write(path / "config.toml", config_toml)
        return run

    @classmethod
    def open(cls, path: str | Path) -> RunDirectory:
        path = Path(path)
        if not (path / "journal.jsonl").is_file() or not (path / "config.toml").is_file():
            raise UsageError(
                f"{path} is not a gome run directory (no journal.jsonl and config.toml): "
                f"give the directory that `gome run` printed."
            )
        return cls(path)

    def write_config(self, config_toml: str) -> None:
        """Replace the configuration the run goes on with (a resume that changed it)."""
        _atomic_write(self.config_path, config_toml)

    @property
    def journal_path(self) -> Path:
        return self.path / "journal.jsonl"

    @property
    def config_path(self) -> Path:
        return self.path / "config.toml"

    def info(self) -> dict[str, Any]:
        path = self.path / "run.json"
        try:
            info = json.loads(path.read_text())
        except FileNotFoundError:
            raise UsageError(f"{path} is missing: the run cannot be resumed.") from None
        except json.JSONDecodeError as exc:
            raise UsageError(
                f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}): "
                f"the run cannot be resumed."
            ) from None
        if not isinstance(info, dict):
            raise UsageError(f"{path} holds no run information: the run cannot be resumed.")
        return info

    def journal(self) -> Journal:
        return Journal(self.journal_path)

    def node_dir(self, node_id: str) -> Path:
        return self.nodes / node_id

    def save_node(self, node: Node) -> Path:
        """Keep a node's code, output tails, scores, submission and metadata."""
        target = self.node_dir(node.id)
        staging = Path(tempfile.mkdtemp(dir=self.nodes, prefix=f".{node.id}."))
        try:
            self._fill(staging, node)
            # Durable before the journal records the step: a resumed run's final choice reads
            # the node's submission from here.
            sync_tree(staging)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
        sync_dir(self.nodes)
        return target

    @staticmethod
    def _fill(staging: Path, node: Node) -> None:
        # A file the contract refuses is kept in node.json only (the engine failed its step).
        unsafe = check_file_names(node.candidate.files)
        for rel, text in node.candidate.files.items():
            if rel in unsafe:
                continue
            dest = staging / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(text, encoding="utf-8")
        if node.result is not None:
            (staging / "stdout.txt").write_text(node.result.stdout_tail, encoding="utf-8")
            (staging / "stderr.txt").write_text(node.result.stderr_tail, encoding="utf-8")
            workspace = node.result.workspace
            if workspace is not None:
                for rel, name in ((SUBMISSION, "submission.csv"), (SCORES, "scores.csv")):
                    if (workspace / rel).is_file():
                        shutil.copyfile(workspace / rel, staging / name)
        (staging / "node.json").write_text(json.dumps(to_data(node), indent=2, default=str))

    def promote(self, node_id: str) -> None:
        """Point ``best`` at ``nodes/<node_id>`` atomically."""
        link = self.path / "best"
        tmp = self.path / f".best.{os.getpid()}"
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        tmp.symlink_to(Path("nodes") / node_id, target_is_directory=True)
        os.replace(tmp, link)
        sync_dir(self.path)

    def best_id(self) -> str | None:
        link = self.path / "best"
        return Path(os.readlink(link)).name if link.is_symlink() else None

    def write_final(self, node_id: str) -> Path | None:
        """Copy the chosen node's submission to ``submission.csv`` (atomically)."""
        source = self.node_dir(node_id) / "submission.csv"
        if not source.is_file():
            return None
        _atomic_write(self.path / "submission.csv", source.read_text(encoding="utf-8"))
        return self.path / "submission.csv"

    def write_json(self, name: str, data: Any) -> Path:
        _atomic_write(self.path / name, json.dumps(data, indent=2, default=str))
        return self.path / name
