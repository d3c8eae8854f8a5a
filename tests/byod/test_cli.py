"""The command-line pieces (`gome tasks init`, the `gome run --data` helpers) and the docs."""

from __future__ import annotations

import os
import re
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner

from gome_core.cli.byod import byod_run_options, init, resolve_byod
from gome_core.errors import UsageError

DOCS = Path(__file__).resolve().parents[2] / "docs" / "bring-your-own-data.md"


def test_tasks_init_writes_a_versionable_competition(wine_dir, tmp_path):
    out, data = tmp_path / "competitions", tmp_path / "data"
    result = CliRunner().invoke(
        init,
        [str(wine_dir), "--goal", "predict the cultivar", "--out", str(out)]
        + ["--data-dir", str(data), "--metric", "multi-class-log-loss", "--name", "grapes"],
    )
    assert result.exit_code == 0, result.output
    assert "target: cultivar" in result.output and "override: --target COL" in result.output
    assert "gome run --task grapes --competitions-dir" in result.output
    written = yaml.safe_load((out / "grapes" / "config.yaml").read_text())
    assert written["grader"]["name"] == "multi-class-log-loss"  # the --metric given
    assert written["byod"]["target"] == "cultivar"
    assert (data / "grapes" / "prepared" / "private" / "test.csv").is_file()


def test_tasks_init_reports_ambiguity_as_a_usage_error(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "train.csv").write_text(
        "sales_a,sales_b,x\n" + "".join(f"{i},{i * 2},{i % 3}\n" for i in range(30))
    )
    result = CliRunner().invoke(init, [str(tmp_path / "d"), "--goal", "predict sales"])
    assert isinstance(result.exception, UsageError)
    assert "`sales_a`, `sales_b`" in str(result.exception)


def test_run_options_collect_into_resolve_byod(cancer_dir, tmp_path):
    seen = {}

    @click.command()
    @click.option("--task")
    @byod_run_options
    def fake_run(task, **options):
        seen.update(resolve=resolve_byod(options, task=task, run_dir=tmp_path / "run", preset="p"))

    result = CliRunner().invoke(
        fake_run, ["--data", str(cancer_dir), "--goal", "predict malignant", "--holdout", "0.25"]
    )
    assert result.exit_code == 0, result.output
    competitions, data, cid, run_dir = seen["resolve"]
    assert (cid, run_dir) == ("tumours", tmp_path / "run")
    assert competitions == (tmp_path / "run" / "competition").resolve()
    assert "held-out test set: 142 of 569" in result.output  # echoed guesses (stderr)


@pytest.mark.parametrize(
    ("options", "task", "message"),
    [
        ({"data": Path("x"), "goal": "g"}, "digits-8x8", "either --task"),
        ({"data": Path("x")}, None, "needs --goal"),
        ({"goal": "g"}, None, "only applies with --data"),
        ({"target": "y"}, None, "--target only applies"),
        ({"data": Path("x"), "goal": "g", "competition_from": Path("y")}, None, "not both"),
    ],
)
def test_resolve_byod_refuses_mixed_options(options, task, message):
    with pytest.raises(UsageError, match=message):
        resolve_byod(options, task=task, run_dir=None, preset=None)
    assert resolve_byod({}, task="digits-8x8", run_dir=None, preset=None) is None


def test_resolve_byod_never_writes_into_an_existing_run(cancer_dir, tmp_path):
    (tmp_path / "journal.jsonl").write_text("")
    with pytest.raises(UsageError, match="gome resume"):
        resolve_byod({"data": cancer_dir, "goal": "g"}, task=None, run_dir=tmp_path, preset=None)


def test_the_python_example_in_the_docs_runs(tmp_path, capsys):
    block = re.findall(r"```python\n(.*?)```", DOCS.read_text(), flags=re.S)[0]
    cwd = os.getcwd()
    try:
        os.chdir(tmp_path)
        exec(compile(block, str(DOCS), "exec"), {})
    finally:
        os.chdir(cwd)
    out = capsys.readouterr().out
    assert "target: benign" in out and "roc-auc False" in out and "0.5" in out
