"""One competition in MLE-bench's layout, and how its config.yaml is read.

A competitions directory holds one folder per competition::

    <competitions-dir>/<id>/config.yaml        id, name, description, dataset, grader, preparer
    <competitions-dir>/<id>/description.md
    <competitions-dir>/<id>/prepare.py         prepare(raw, public, private)
    <competitions-dir>/<id>/grade.py           grade(submission_df, answers_df) -> float
    <competitions-dir>/<id>/leaderboard.csv    Kaggle export; only `score` is read, best first

and the data directory holds ``<data-dir>/<id>/{raw, prepared/public, prepared/private}``. Paths in
``dataset`` are relative to the data directory, as in MLE-bench.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from gome_core.competitions.errors import CompetitionConfigError, CompetitionError
from gome_core.competitions.lfs import check_not_lfs_pointer

__all__ = ["Competition", "load_competition", "resolve_callable"]


@attrs.frozen
class Competition:
    """A competition's definition and the paths of its data; building one reads no data.

    ``lower_is_better`` is read from the leaderboard (``None`` when the leaderboard cannot be
    read; grading then says why). ``grade_fn`` and ``preparer`` are kept as written in config.yaml
    and resolved only when used.
    """

    id: str
    name: str
    metric_name: str
    lower_is_better: bool | None
    competition_dir: Path
    description_path: Path
    grade_fn: str
    preparer: str
    answers: Path
    sample_submission: Path
    gold_submission: Path | None
    leaderboard_path: Path
    raw_dir: Path
    public_dir: Path
    private_dir: Path
    competition_type: str = "simple"
    awards_medals: bool | None = None
    bundled: bool = False

    @property
    def description(self) -> str:
        """The description's text (Markdown)."""
        check_not_lfs_pointer(self.description_path, "description")
        return self.description_path.read_text(encoding="utf-8")

    @property
    def data_dir(self) -> Path:
        """``<data-dir>/<id>``: holds ``raw`` and ``prepared``."""
        return self.raw_dir.parent

    @property
    def is_prepared(self) -> bool:
        """Public and private data, answers and sample submission are all in place."""
        return (
            _non_empty_dir(self.public_dir)
            and _non_empty_dir(self.private_dir)
            and self.answers.is_file()
            and self.sample_submission.is_file()
        )

    def load_grade_fn(self) -> Callable[..., Any]:
        """The grade function named by config.yaml."""
        return resolve_callable(self.grade_fn, self.competition_dir, default_name="grade")

    def load_prepare_fn(self) -> Callable[..., Any]:
        """The prepare function named by config.yaml."""
        return resolve_callable(self.preparer, self.competition_dir, default_name="prepare")


def _non_empty_dir(path: Path) -> bool:
    return path.is_dir() and any(path.iterdir())


def _get(config: dict[str, Any], dotted: str, path: Path, *, required: bool = True) -> Any:
    node: Any = config
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            if required:
                raise CompetitionConfigError(path, f"missing key `{dotted}`")
            return None
        node = node[key]
    if required and (node is None or (isinstance(node, str) and not node.strip())):
        raise CompetitionConfigError(path, f"key `{dotted}` is empty")
    return node


def _resolve_description(raw: str, competition_dir: Path) -> Path | None:
    """Find the description file config.yaml names.

    MLE-bench writes it relative to its repository root
    (``mlebench/competitions/<id>/description.md``); gome also accepts a path relative to the
    competition's folder or an absolute one.
    """
    given = Path(raw)
    candidates = [given] if given.is_absolute() else [competition_dir / given]
    parts = given.parts
    if competition_dir.name in parts:
        # `.../<id>/description.md` -> the same file inside this competition's folder.
        tail = parts[len(parts) - 1 - parts[::-1].index(competition_dir.name) + 1 :]
        if tail:
            candidates.append(competition_dir.joinpath(*tail))
    candidates.append(competition_dir / given.name)
    for root in competition_dir.parents[:3]:
        candidates.append(root / given)
    return next((c for c in candidates if c.is_file()), None)


def load_competition(
    competition_dir: Path, data_dir: Path, *, bundled: bool = False
) -> Competition:
    """Read ``<competition_dir>/config.yaml`` into a :class:`Competition`.

    Raises :class:`CompetitionConfigError` naming the file and the problem.
    """
    import yaml  # lazy: keeps `import gome_core` light

    from gome_core.competitions.medals import infer_lower_is_better, read_leaderboard_scores

    config_path = competition_dir / "config.yaml"
    if not config_path.is_file():
        raise CompetitionConfigError(config_path, "file does not exist")
    check_not_lfs_pointer(config_path, "config file")
    try:
        config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise CompetitionConfigError(config_path, f"not valid YAML ({exc})") from exc
    if not isinstance(config, dict):
        raise CompetitionConfigError(config_path, "expected a mapping at the top level")

    cid = str(_get(config, "id", config_path))
    description_raw = str(_get(config, "description", config_path))
    description_path = _resolve_description(description_raw, competition_dir)
    if description_path is None:
        raise CompetitionConfigError(
            config_path, f"description file {description_raw!r} not found next to config.yaml"
        )

    def data_path(value: str) -> Path:
        p = Path(value)
        return p if p.is_absolute() else data_dir / p

    gold = _get(config, "dataset.gold_submission", config_path, required=False)
    leaderboard_path = competition_dir / "leaderboard.csv"
    try:
        lower_is_better: bool | None = infer_lower_is_better(
            read_leaderboard_scores(leaderboard_path)
        )
    except CompetitionError:  # missing, malformed or an LFS pointer: grading says which
        lower_is_better = None

    awards = config.get("awards_medals")
    return Competition(
        id=cid,
        name=str(_get(config, "name", config_path)),
        metric_name=str(_get(config, "grader.name", config_path)),
        lower_is_better=lower_is_better,
        competition_dir=competition_dir,
        description_path=description_path,
        grade_fn=str(_get(config, "grader.grade_fn", config_path)),
        preparer=str(_get(config, "preparer", config_path)),
        answers=data_path(str(_get(config, "dataset.answers", config_path))),
        sample_submission=data_path(str(_get(config, "dataset.sample_submission", config_path))),
        gold_submission=data_path(str(gold)) if gold else None,
        leaderboard_path=leaderboard_path,
        raw_dir=data_dir / cid / "raw",
        public_dir=data_dir / cid / "prepared" / "public",
        private_dir=data_dir / cid / "prepared" / "private",
        competition_type=str(config.get("competition_type") or "simple"),
        awards_medals=None if awards is None else bool(awards),
        bundled=bundled,
    )


# --- resolving `grade_fn` / `preparer` -------------------------------------------------------

_loaded: dict[Path, Any] = {}


def _split_spec(spec: str, default_name: str) -> tuple[str, str]:
    target, sep, name = spec.rpartition(":")
    if not sep or not name.isidentifier():
        # No function name (or a Windows drive colon): the whole spec is the target.
        return spec, default_name
    return target, name


def _looks_like_file(target: str) -> bool:
    return target.endswith(".py") or "/" in target or "\\" in target


def _file_for_module(target: str, competition_dir: Path) -> Path | None:
    """The file inside the competitions directory that a dotted module path points at.

    ``mlebench.competitions.<id>.grade`` (or any ``<...>.<id>.<module>``) resolves to
    ``<competitions-dir>/<id>/grade.py`` when that file exists, so MLE-bench's own configs load
    without MLE-bench installed.
    """
    parts = target.split(".")
    root = competition_dir.parent
    for i in range(len(parts) - 1):
        candidate = root / parts[i] / Path(*parts[i + 1 :]).with_suffix(".py")
        if (root / parts[i]).is_dir() and candidate.is_file():
            return candidate
    return None


def _mlebench_checkout_root(competition_dir: Path) -> Path | None:
    """The repository root when the competition lives in a checkout's ``mlebench/competitions``."""
    competitions = competition_dir.parent
    package = competitions.parent
    if (
        competitions.name == "competitions"
        and package.name == "mlebench"
        and (package / "__init__.py").is_file()
    ):
        return package.parent
    return None


def _load_module_from_file(path: Path, competition_dir: Path) -> Any:
    path = path.resolve()
    if path in _loaded:
        return _loaded[path]
    check_not_lfs_pointer(path, "Python file")
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    stem = re.sub(r"\W", "_", f"{competition_dir.name}_{path.stem}")
    name = f"_gome_competition_{stem}_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise CompetitionConfigError(path, "cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    # Let the file import its siblings (`import utils`) and, inside an MLE-bench checkout,
    # MLE-bench's own helpers (`from mlebench.competitions.utils import ...`).
    extra = [str(competition_dir)]
    checkout = _mlebench_checkout_root(competition_dir)
    if checkout is not None and importlib.util.find_spec("mlebench") is None:
        extra.append(str(checkout))
    old_path = list(sys.path)
    sys.path[:0] = extra
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except ImportError as exc:
        sys.modules.pop(name, None)
        hint = (
            " It imports MLE-bench's helpers: install MLE-bench's requirements "
            f"(`pip install -e {checkout}`)."
            if checkout is not None or "mlebench" in str(exc)
            else " Install the package it needs."
        )
        raise CompetitionConfigError(path, f"cannot be imported: {exc}.{hint}") from exc
    except Exception as exc:
        sys.modules.pop(name, None)
        raise CompetitionConfigError(
            path, f"raised {type(exc).__name__} while being imported: {exc}"
        ) from exc
    finally:
        sys.path[:] = old_path
    _loaded[path] = module
    return module


def resolve_callable(spec: str, competition_dir: Path, *, default_name: str) -> Callable[..., Any]:
    """Resolve a ``grade_fn`` / ``preparer`` spec to a function.

    Accepted forms: ``module.path:function``; ``mlebench.competitions.<id>.<module>:function``
    (read from the competitions directory); a file path relative to the competition's folder,
    ``grade.py:grade`` or just ``grade.py`` (function named ``default_name``).
    """
    target, fn_name = _split_spec(spec.strip(), default_name)
    config_path = competition_dir / "config.yaml"
    if _looks_like_file(target):
        file = Path(target)
        file = file if file.is_absolute() else competition_dir / file
        if not file.is_file():
            raise CompetitionConfigError(config_path, f"`{spec}` names a file that does not exist")
        module = _load_module_from_file(file, competition_dir)
    elif (file := _file_for_module(target, competition_dir)) is not None:
        module = _load_module_from_file(file, competition_dir)
    else:
        try:
            module = importlib.import_module(target)
        except ImportError as exc:
            raise CompetitionConfigError(
                config_path,
                f"`{spec}`: module {target!r} cannot be imported ({exc}) and no matching file "
                f"exists in {competition_dir.parent}",
            ) from exc
    fn = getattr(module, fn_name, None)
    if not callable(fn):
        raise CompetitionConfigError(
            config_path,
            f"`{spec}`: {getattr(module, '__file__', target)} has no function {fn_name!r}",
        )
    return fn


def check_prepare_signature(fn: Callable[..., Any]) -> bool:
    """True if ``fn`` accepts ``raw``, ``public`` and ``private`` keyword arguments."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return True
    return all(name in params for name in ("raw", "public", "private"))
