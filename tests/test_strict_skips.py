"""CI forbids skips for missing parts: a broken install must not pass as a green suite."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT, STRICT_SKIPS

SKIPPING = """
import pytest

def test_needs_a_missing_part():
    pytest.importorskip("no_such_module_here")

@pytest.mark.skipif(True, reason="no such tool here")
def test_needs_a_missing_tool():
    pass

@pytest.mark.gpu
def test_needs_a_gpu():
    pytest.skip("no GPU here")

@pytest.mark.xfail(reason="known")
def test_known_failure():
    assert False
"""


def _run(tmp_path, strict: str | None) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_skipping.py").write_text(SKIPPING)
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    if strict is not None:
        env[STRICT_SKIPS] = strict
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.conftest", "-p", "no:cacheprovider"]
        + ["-p", "no:xdist", "-q", "-rA", "-o", "markers=gpu: a GPU test"]
        + [str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )


@pytest.mark.parametrize("strict", [None, "0"])
def test_without_the_setting_missing_parts_skip(tmp_path, strict):
    result = _run(tmp_path, strict)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 skipped, 1 xfailed" in result.stdout


def test_with_the_setting_a_skip_for_a_missing_part_fails_and_says_why(tmp_path):
    result = _run(tmp_path, "1")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 failed, 1 skipped, 1 xfailed, 1 error" in result.stdout
    assert f"{STRICT_SKIPS} forbids skips: no such tool here" in result.stdout
    assert f"{STRICT_SKIPS} forbids skips: could not import 'no_such_module_here'" in result.stdout
    # A GPU test still skips: no CI machine is promised one.
    assert "SKIPPED [1] test_skipping.py:13: no GPU here" in result.stdout
