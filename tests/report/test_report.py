"""`gome report`: what the page holds, that nothing in it can run, and that any run renders."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from gome_core import Candidate, ExecutionResult, Node, Proposal, ValidationReport
from gome_core.cli import cli
from gome_core.errors import UsageError
from gome_core.journal import Journal
from gome_core.report import load_run, render_report, write_report
from gome_core.report.assets import JS
from gome_core.report.svg import anchor
from tests.report.hostile_plugin import ATTR, IMG, PAYLOAD

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def gome_html(report_runs):
    return render_report(report_runs["gome"])


@pytest.fixture(scope="module")
def tree_html(report_runs):
    return render_report(report_runs["tree"])


# --------------------------------------------------------------------------- reading the run


def test_a_gome_run_is_read_with_traces_and_every_outcome(report_runs):
    run = load_run(report_runs["gome"])
    assert run.has_traces and run.metric.name == "mae" and run.metric.lower_is_better
    assert len(run.steps) == 9
    outcomes = {s.id: s.outcome for s in run.steps}
    assert set(outcomes.values()) == {"accepted", "rejected", "buggy"}
    # Which trace gets the ninth step depends on timing: its fifth step is the rejected one.
    assert outcomes["t0-000"] == "accepted"
    assert [i for i, o in outcomes.items() if o == "rejected"] in (["t0-004"], ["t1-004"])
    # The step that broke while being written, and the one that crashed after two repairs.
    broken = run.by_id["t0-001"]
    assert broken.buggy and "broke on purpose" in broken.node["error"]
    crashed = run.by_id["t1-003~r2"]
    assert crashed.proposal_id == "t1-003" and [r["round"] for r in crashed.repairs] == [1, 2]
    # Every step's reasoning event is matched, and the final choice is marked.
    assert all(s.reasoning is not None for s in run.steps)
    assert run.final_id in run.by_id and run.by_id[run.final_id].final
    assert sum(s.final for s in run.steps) == 1
    assert len(run.llm_calls) == 9 and run.grading["competition_id"] == "toy-mae"


def test_a_tree_search_run_is_read_as_a_tree_with_a_crossover(report_runs):
    run = load_run(report_runs["tree"])
    assert not run.has_traces and len(run.steps) == 12
    assert {s.outcome for s in run.steps} <= {"improved", "valid", "buggy"}
    assert any(s.outcome == "improved" for s in run.steps)
    assert any(len(s.parents) == 2 for s in run.steps)  # crossover
    seen: set[str] = set()
    for step in run.steps:  # parents finish before their children
        assert set(step.parents) <= seen
        seen.add(step.id)
    assert not run.llm_calls and run.grading is None


def test_a_directory_without_a_journal_is_a_clear_error(tmp_path):
    with pytest.raises(UsageError, match="not a gome run directory"):
        load_run(tmp_path)


# --------------------------------------------------------------------------- nothing can run


def test_untrusted_strings_are_escaped_everywhere(gome_html, tree_html):
    for page in (gome_html, tree_html):
        assert PAYLOAD not in page and IMG not in page and ATTR not in page
        # One script element: the page's own, which reads no run data.
        assert page.count("<script") == 1 and page.count("</script>") == 1
        assert re.search(r"<script>(.*?)</script>", page, re.S).group(1) == JS
        assert "<img" not in page and "onerror=" not in page.replace("onerror=&quot;", "")
    escaped = "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;"
    # In the code, the diff, stdout, stderr, reasons, problems, hypotheses and selection.
    assert gome_html.count(escaped) > 30


def test_the_page_is_self_contained_and_allows_only_its_own_script(gome_html):
    assert not re.search(r"<(link|img|iframe|object|embed)\b", gome_html)
    assert not re.search(r"\b(src|href)=\"(https?:)?//", gome_html)
    urls = set(re.findall(r"https?://[^\s\"'<>]+", gome_html))
    assert urls <= {"http://www.w3.org/2000/svg"}, urls
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', gome_html).group(1)
    digest = base64.b64encode(hashlib.sha256(JS.encode()).digest()).decode()
    assert "default-src &#x27;none&#x27;" in csp and f"sha256-{digest}" in csp
    assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]


# --------------------------------------------------------------------------- what the page shows


def test_the_page_shows_trees_chart_diagnosis_verdicts_diffs_outputs_costs(report_runs, gome_html):
    page = gome_html
    run = load_run(report_runs["gome"])
    # Tree: one linked node per step, coloured by outcome; the final choice ringed.
    assert page.count('class="node"') == 9
    for outcome in ("accepted", "rejected", "buggy"):
        assert f'class="dot o-{outcome}"' in page
    assert page.count('<circle class="final-ring"') == 2  # in the tree and in the chart
    # Chart: a best-so-far line per trace.
    assert page.count('<polyline class="best"') == 2
    # Every step has a section, its diagnosis with the five scores, and its verdicts.
    for step in run.steps:
        assert f'id="{anchor(step.id)}"' in page
    for header in ("align.", "impact", "novelty", "feasib.", "risk/rew.", "weighted"):
        assert f">{header}</th>" in page
    assert ">7.9<" in page  # 0.2*9 + 0.4*8 + 0.2*7 + 0.1*9 + 0.1*6
    assert "Selection:</b> top-k &quot; onmouseover=" in page
    assert "Repair round 2 after the debug run failed" in page
    assert '<span class="badge b-fail">fail</span>' in page
    # Diffs against the parent, with removed and added lines.
    assert "Code diff against" in page and '<span class="del">-A = ' in page
    assert '<span class="add">+A = ' in page
    # Output tails read from nodes/<id>/stdout.txt and stderr.txt.
    assert "<b>stdout</b>" in page and "<b>stderr</b>" in page
    # LLM usage: 9 calls of the scripted model, 1500 tokens and $0.0125 each.
    assert "scripted-1" in page and "$0.1125" in page and "13,500" in page
    # Final choice, re-validated on seed 1, and the grading with its medal.
    final = page.split('id="final"')[1].split("</section>")[0]
    assert "seed 1" in final and 'class="chosen"' in final and run.final_id in final
    grading = page.split('id="grading"')[1].split("</section>")[0]
    assert "bronze_threshold" in grading
    graded = json.loads((report_runs["gome"] / "grading.json").read_text())
    medal = next((m for m in ("gold", "silver", "bronze") if graded[f"{m}_medal"]), None)
    if medal is not None:
        assert f'class="badge b-{medal}">{medal} medal</span>' in grading
    elif graded["above_median"]:
        assert 'class="badge b-median">above median</span>' in grading
    else:
        assert 'class="badge b-none">no medal</span>' in grading


def test_a_tree_search_page_has_a_root_a_dashed_crossover_and_no_llm(tree_html):
    assert 'class="root"' in tree_html and 'class="edge extra"' in tree_html
    assert "offline reasoner: no LLM calls" in tree_html
    assert "new best when it finished" in tree_html and "Not graded" in tree_html
    assert tree_html.count('<polyline class="best"') == 1


def test_a_run_still_going_or_killed_renders(report_runs, copy_run):
    run_dir = copy_run(report_runs["gome"])
    lines = (run_dir / "journal.jsonl").read_bytes().split(b"\n")
    cut = next(i for i, line in enumerate(lines) if b'"type":"step_finished"' in line)
    (run_dir / "journal.jsonl").write_bytes(b"\n".join(lines[: cut + 1]) + b'\n{"seq": 9, "ty')
    (run_dir / "grading.json").unlink()
    page = render_report(run_dir)
    assert "running or killed" in page and "No final choice was made" in page
    assert page.count('class="node"') == 1 and "Not graded" in page


def test_odd_ids_crossovers_and_missing_files_render(tmp_path):
    """A synthetic journal: no run_started, ids with markup, a crossover, no node files."""
    with Journal(tmp_path / "journal.jsonl") as journal:
        result = ExecutionResult(exit_code=0, stdout_tail="tail <b>", wall_s=1.5)

        def finish(node_id, parents, score, operator="draft"):
            candidate = Candidate.from_code(node_id, f"print({score})\n", parents=parents)
            node = Node(
                candidate, result, (ValidationReport.ok("full-run", score=score),), score=score
            )
            proposal = Proposal(node_id, operator, parents=parents)
            journal.append(
                "step_finished",
                proposal=proposal,
                node=node,
                buggy=False,
                score=score,
                step=1,
                elapsed_s=1.0,
            )

        finish("<a>", (), 0.5)
        finish("b&c", (), 0.7)
        finish('x"y', ("<a>", "b&c"), 0.9, "crossover")
        journal.append("new_best", node_id='x"y', score=0.9)
    run = load_run(tmp_path)
    assert not run.metric_known and run.steps[-1].outcome == "improved"
    page = render_report(tmp_path)
    assert "assumed: the journal has no run_started event" in page
    assert 'class="edge extra"' in page and "tail &lt;b&gt;" in page
    ids = {anchor(s.id) for s in run.steps}
    assert len(ids) == 3 and all(re.fullmatch(r"step-[A-Za-z0-9_-]+", i) for i in ids)
    assert "-print(0.5)" in page and "+print(0.9)" in page


# --------------------------------------------------------------------------- the command


@pytest.fixture
def gome_report():
    """The `gome report` command, through the CLI as it registers it."""

    def invoke(*args: str):
        return CliRunner().invoke(cli, ["report", *args], catch_exceptions=False)

    return invoke


def test_the_command_writes_report_html_in_the_run_directory(report_runs, copy_run, gome_report):
    run_dir = copy_run(report_runs["tree"])
    result = gome_report(str(run_dir))
    assert result.exit_code == 0, result.output
    assert (run_dir / "report.html").is_file() and "report.html" in result.output
    assert (run_dir / "report.html").read_text().startswith("<!DOCTYPE html>")


def test_the_command_writes_where_told_and_to_stdout(report_runs, tmp_path, gome_report):
    target = tmp_path / "out" / "page.html"
    result = gome_report(str(report_runs["gome"]), "-o", str(target))
    assert result.exit_code == 0 and target.is_file()
    result = gome_report(str(report_runs["gome"]), "--output", "-")
    assert result.exit_code == 0 and result.output.startswith("<!DOCTYPE html>")


def test_the_command_explains_an_output_path_it_cannot_write(report_runs, tmp_path):
    (tmp_path / "a-file").write_text("")
    target = tmp_path / "a-file" / "page.html"
    result = CliRunner().invoke(cli, ["report", str(report_runs["gome"]), "-o", str(target)])
    assert result.exit_code == 2 and f"cannot write the report to {target}" in result.output


def test_the_command_explains_a_directory_that_is_no_run(tmp_path, gome_report):
    result = CliRunner().invoke(cli, ["report", str(tmp_path)])
    assert result.exit_code == 2 and "not a gome run directory" in result.output
    del gome_report


def test_a_30_step_run_renders_every_step_in_a_small_page(report_runs, copy_run):
    """A run of 30 steps (the 9 real ones, repeated with fresh ids) renders whole, under 1 MB
    (how fast: benchmarks/report.py)."""
    run_dir = copy_run(report_runs["gome"])
    events = list(Journal.read(run_dir / "journal.jsonl"))
    finished = [e for e in events if e["type"] == "step_finished"]
    with open(run_dir / "journal.jsonl", "a") as f:
        for i in range(21):
            event = json.loads(json.dumps(finished[i % len(finished)]))
            event["node"]["candidate"]["id"] = event["proposal"]["id"] = f"t9-{i:03d}"
            event["seq"] = len(events) + i
            f.write(json.dumps(event) + "\n")
    path = write_report(run_dir)
    page = path.read_text()
    steps = load_run(run_dir).steps
    assert len(steps) == 30 and path.stat().st_size < 1_000_000
    # Every step is drawn in the tree and has its own section.
    assert page.count('class="node"') == 30
    assert all(page.count(f'id="{anchor(step.id)}"') == 1 for step in steps)


# --------------------------------------------------------------------------- the guide


def test_the_guide_example_runs(report_runs, copy_run, tmp_path, monkeypatch, capsys):
    docs = (ROOT / "docs" / "reports.md").read_text()
    block = re.findall(r"```python\n(.*?)```", docs, flags=re.S)[0]
    (tmp_path / "runs").mkdir()
    copy_run(report_runs["gome"], "runs/my-run")
    monkeypatch.chdir(tmp_path)
    exec(compile(block, "reports.md", "exec"), {})
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("toy-mae-toy-") and "9 steps, best mae" in out[0]
    assert len(out) == 10 and (tmp_path / "runs" / "my-run" / "report.html").is_file()
