"""Finding, preparing and locating competitions across several competitions directories."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from gome_core.competitions.competition import (
    Competition,
    check_prepare_signature,
    load_competition,
)
from gome_core.competitions.errors import (
    CompetitionError,
    CompetitionNotFoundError,
    LFSPointerError,
    PrepareError,
)
from gome_core.competitions.lfs import find_lfs_pointers
from gome_core.logs import get_logger

if TYPE_CHECKING:
    from gome_core.competitions.grading import GradingReport

__all__ = [
    "BUNDLED_DIR",
    "CompetitionStore",
    "default_data_dir",
    "default_wheel_cache",
]

log = get_logger(__name__)

#: The competitions that ship with gome.
BUNDLED_DIR = Path(__file__).resolve().parent / "bundled"


def _cache_home() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")


def default_data_dir() -> Path:
    """``$GOME_DATA_DIR``, else ``~/.cache/gome/data``."""
    env = os.environ.get("GOME_DATA_DIR")
    return Path(env).expanduser() if env else _cache_home() / "gome" / "data"


def default_wheel_cache() -> Path:
    """Where wheels fetched for their data files are kept: ``$GOME_WHEEL_CACHE``, else
    ``~/.cache/gome/wheels``."""
    env = os.environ.get("GOME_WHEEL_CACHE")
    return Path(env).expanduser() if env else _cache_home() / "gome" / "wheels"


def _expand_competitions_dir(path: Path) -> Path:
    """Accept an MLE-bench checkout's root or its ``mlebench`` package for its competitions."""
    for sub in (Path("mlebench") / "competitions", Path("competitions")):
        if not (path / "config.yaml").is_file() and (path / sub).is_dir():
            return path / sub
    return path


def _remove_leftovers(data_dir: Path) -> None:
    """Delete staging folders of prepares whose process died (their pid is in the name)."""
    if not data_dir.is_dir():
        return
    for path in data_dir.glob(".prepared-*-*"):
        pid = path.name.rsplit("-", 1)[-1]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except OSError:
            pass  # alive but not ours: leave it


@attrs.frozen
class CompetitionStore:
    """Competitions found in ``competitions_dirs`` (searched in order: the first directory that
    has an id wins) with their data under ``data_dir``."""

    competitions_dirs: tuple[Path, ...] = attrs.field(
        converter=lambda dirs: tuple(_expand_competitions_dir(Path(d).expanduser()) for d in dirs)
    )
    data_dir: Path = attrs.field(converter=lambda p: Path(p).expanduser())

    @classmethod
    def default(
        cls,
        competitions_dirs: Iterable[str | os.PathLike[str]] | None = None,
        data_dir: str | os.PathLike[str] | None = None,
    ) -> CompetitionStore:
        """The user's directories (argument, else ``$GOME_COMPETITIONS_DIR``, ``os.pathsep``
        separated) followed by the bundled competitions; data in ``data_dir``, else
        ``$GOME_DATA_DIR``, else ``~/.cache/gome/data``."""
        if competitions_dirs is None:
            env = os.environ.get("GOME_COMPETITIONS_DIR", "")
            competitions_dirs = [p for p in env.split(os.pathsep) if p.strip()]
        dirs = [Path(d) for d in competitions_dirs]
        for d in dirs:
            if not Path(d).expanduser().is_dir():
                raise CompetitionError(
                    f"competitions directory {d} does not exist. Point --competitions-dir (or "
                    f"GOME_COMPETITIONS_DIR) at a folder holding one sub-folder per competition, "
                    f"e.g. a checkout of MLE-bench's mlebench/competitions."
                )
        if BUNDLED_DIR not in dirs:
            dirs.append(BUNDLED_DIR)
        return cls(dirs, Path(data_dir) if data_dir is not None else default_data_dir())

    # --- finding ---------------------------------------------------------------------------

    def _candidate_dirs(self) -> Iterable[tuple[Path, Path]]:
        for root in self.competitions_dirs:
            if (root / "config.yaml").is_file():  # a single competition's own folder
                yield root, root
                continue
            if not root.is_dir():
                continue
            for child in sorted(root.iterdir()):
                if (child / "config.yaml").is_file():
                    yield root, child

    def scan(self) -> tuple[list[Competition], list[CompetitionError]]:
        """All loadable competitions (sorted by id; earlier directories shadow later ones) and
        the errors of those that could not be loaded."""
        found: dict[str, Competition] = {}
        problems: list[CompetitionError] = []
        for root, folder in self._candidate_dirs():
            try:
                comp = load_competition(folder, self.data_dir, bundled=root == BUNDLED_DIR)
            except CompetitionError as exc:
                problems.append(exc)
                continue
            found.setdefault(comp.id, comp)
        return [found[k] for k in sorted(found)], problems

    def list(self) -> list[Competition]:
        """Every loadable competition, sorted by id."""
        return self.scan()[0]

    def ids(self) -> list[str]:
        return [c.id for c in self.list()]

    def get(self, competition_id: str) -> Competition:
        """The competition with this id; :class:`CompetitionNotFoundError` suggests close ids."""
        for root in self.competitions_dirs:
            folder = root if (root / "config.yaml").is_file() else root / competition_id
            if (folder / "config.yaml").is_file():
                comp = load_competition(folder, self.data_dir, bundled=root == BUNDLED_DIR)
                if comp.id == competition_id:
                    return comp
        # A folder named differently from its id: fall back to a full scan.
        competitions, _ = self.scan()
        for comp in competitions:
            if comp.id == competition_id:
                return comp
        raise CompetitionNotFoundError(
            competition_id, [c.id for c in competitions], self.competitions_dirs
        )

    def public_dir(self, competition_id: str) -> Path:
        return self.get(competition_id).public_dir

    def private_dir(self, competition_id: str) -> Path:
        return self.get(competition_id).private_dir

    # --- preparing -------------------------------------------------------------------------

    def prepare(self, competition: str | Competition, *, force: bool = False) -> Competition:
        """Run the competition's ``prepare(raw, public, private)`` unless already prepared.

        Output is written to a staging folder and moved into ``prepared/`` only when complete,
        so a failed or interrupted prepare never leaves half-written data behind. Raises
        :class:`PrepareError` (or :class:`LFSPointerError`) with the cause.
        """
        comp = self.get(competition) if isinstance(competition, str) else competition
        if comp.is_prepared and not force:
            log.debug("competition already prepared", competition=comp.id, path=str(comp.data_dir))
            return comp
        _ = comp.description  # fail early on a missing / LFS description
        prepare_fn = comp.load_prepare_fn()
        if not check_prepare_signature(prepare_fn):
            raise PrepareError(
                f"the preparer {comp.preparer!r} of competition {comp.id!r} must accept the "
                f"arguments raw, public and private (MLE-bench's `prepare(raw, public, private)`)."
            )
        comp.raw_dir.mkdir(parents=True, exist_ok=True)
        pointers = find_lfs_pointers(comp.raw_dir, limit=200)
        if pointers:
            raise LFSPointerError(pointers[0], "raw data file")

        prepared = comp.public_dir.parent
        _remove_leftovers(comp.data_dir)
        staging = comp.data_dir / f".prepared-staging-{os.getpid()}"
        public, private = staging / "public", staging / "private"
        public.mkdir(parents=True)
        private.mkdir(parents=True)
        started = time.monotonic()
        log.info("preparing competition", competition=comp.id, data_dir=str(comp.data_dir))
        try:
            try:
                prepare_fn(raw=comp.raw_dir, public=public, private=private)
            except CompetitionError:
                raise
            except Exception as exc:
                raise PrepareError(self._prepare_failure(comp, exc)) from exc
            (public / "description.md").write_text(comp.description, encoding="utf-8")
            self._check_prepared_output(comp, staging)
            if comp.is_prepared and not force:
                # Another process prepared it meanwhile: keep theirs, which its runs may be
                # reading, rather than swap in the same data.
                log.debug("competition prepared meanwhile", competition=comp.id)
                return comp
            old = comp.data_dir / f".prepared-old-{os.getpid()}"
            if prepared.exists():
                prepared.rename(old)
            staging.rename(prepared)
            shutil.rmtree(old, ignore_errors=True)
        finally:
            # Also on KeyboardInterrupt: never leave a half-written staging folder behind.
            shutil.rmtree(staging, ignore_errors=True)
        log.info(
            "prepared competition",
            competition=comp.id,
            seconds=round(time.monotonic() - started, 2),
            public=str(comp.public_dir),
        )
        return comp

    def _prepare_failure(self, comp: Competition, exc: BaseException) -> str:
        where = comp.preparer
        msg = f"preparing competition {comp.id!r} failed in {where}: {type(exc).__name__}: {exc}."
        pointers = find_lfs_pointers(comp.raw_dir)
        if pointers:
            return (
                f"{msg} Its raw data holds git-LFS pointers instead of data (e.g. {pointers[0]}): "
                f"run `git lfs pull` where those files came from."
            )
        raw_empty = not any(comp.raw_dir.iterdir()) if comp.raw_dir.is_dir() else True
        if raw_empty and not comp.bundled:
            return (
                f"{msg} Its raw data directory {comp.raw_dir} is empty: put the competition's "
                f"original files there (for an MLE-bench competition, `mlebench prepare -c "
                f"{comp.id}` downloads them from Kaggle), or point --data-dir at a data directory "
                f"where it is already prepared."
            )
        return f"{msg} Fix the preparer or its raw data in {comp.raw_dir}, then retry."

    @staticmethod
    def _check_prepared_output(comp: Competition, staging: Path) -> None:
        prepared = comp.public_dir.parent

        def staged(path: Path) -> Path:
            try:
                return staging / path.relative_to(prepared)
            except ValueError:
                return path  # configured outside prepared/: checked where it is

        missing = [
            p
            for p in (comp.answers, comp.sample_submission)
            if not staged(p).is_file() and not p.is_file()
        ]
        if not any((staging / "private").iterdir()):
            missing.append(comp.private_dir)
        if missing:
            raise PrepareError(
                f"the preparer of competition {comp.id!r} finished but did not write "
                f"{', '.join(str(m) for m in missing)}; config.yaml's dataset.answers and "
                f"dataset.sample_submission must name files that prepare() writes."
            )

    def prepare_many(
        self, ids: Sequence[str] | None = None, *, force: bool = False
    ) -> list[Competition]:
        """Prepare several competitions (all when ``ids`` is None); stops at the first failure."""
        targets = [self.get(i) for i in ids] if ids is not None else self.list()
        return [self.prepare(c, force=force) for c in targets]

    def grade(self, competition_id: str, submission: str | os.PathLike[str]) -> GradingReport:
        """Grade a submission file; see :func:`gome_core.competitions.grade_submission`."""
        from gome_core.competitions.grading import grade_submission

        return grade_submission(submission, self.get(competition_id))
