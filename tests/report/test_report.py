"""`gome report`: what the page holds, that nothing in it can run, and that any run renders."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from gome_core import (
    Candidate,
    Direction,
    ExecutionResult,
    Hypothesis,
    Node,
    Proposal,
    ValidationReport,
)
from gome_core.cli import cli
from gome_core.errors import UsageError
from gome_core.journal import Journal
from gome_core.report import load_run, render_report, write_report
from gome_core.report.assets import JS
from gome_core.report.svg import anchor, fmt
from tests.report.hostile_plugin import ATTR, IMG, PAYLOAD
from tests.report.synthetic import SyntheticRun

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
    assert out[0].startswith("toy-mae-toy-") and out[0].endswith(": 9 steps")
    assert out[1].startswith("best mae ")
    assert len(out) == 11 and (tmp_path / "runs" / "my-run" / "report.html").is_file()


# --------------------------------------------------------------------------- what each part says


def _text(fragment: str) -> str:
    """The text of an HTML fragment, as a reader sees it (tags gone, spaces collapsed)."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", fragment))).strip()


def _section(page: str, name: str) -> str:
    return page.split(f'<section id="{name}">')[1].split("</section>")[0]


def _card(page: str, key: str) -> tuple[str, str]:
    """The value and the detail of the summary card called ``key``."""
    for k, v, d in re.findall(
        r'<div class="card"><div class="k">(.*?)</div><div class="v">(.*?)</div>'
        r'<div class="d">(.*?)</div></div>',
        page,
    ):
        if _text(k) == key:
            return _text(v), _text(d)
    raise AssertionError(f"no card {key!r}")


def _step_summary(page: str, node_id: str) -> str:
    part = page.split(f'id="{anchor(node_id)}"')[1]
    return _text(part.split("<summary>")[1].split("</summary>")[0])


def _rewrite(run_dir: Path, change) -> None:
    """Rewrite a copied run's journal: ``change`` takes the events and returns the new ones."""
    path = run_dir / "journal.jsonl"
    events = change(list(Journal.read(path)))
    for seq, event in enumerate(events):
        event["seq"] = seq
    path.write_text("".join(json.dumps(event) + "\n" for event in events))


def test_the_final_choice_says_whether_it_was_re_validated(report_runs, copy_run, gome_html):
    value, detail = _card(gome_html, "final choice")
    assert detail.startswith("re-validated mean ")
    assert "fresh splits" in _text(_section(gome_html, "final"))

    # engine.final_top_k = 1: the one candidate keeps its score from the run, nothing more.
    run_dir = copy_run(report_runs["gome"])
    chosen = load_run(run_dir).by_id[value]

    def no_revalidation(events):
        for event in events:
            if event["type"] == "final_choice":
                event["seeds"] = []
                event["candidates"] = [
                    {"node_id": value, "scores": [chosen.score], "mean": chosen.score}
                ]
        return events

    _rewrite(run_dir, no_revalidation)
    page = render_report(run_dir)
    assert _card(page, "final choice") == (
        value,
        f"validation mae {fmt(chosen.score)} (not re-validated)",
    )
    final = _section(page, "final")
    assert "Not re-validated" in _text(final) and "mean" not in _text(final)
    assert ">mean</th>" not in final and f">{fmt(chosen.score)}<" in final


@pytest.mark.parametrize(("per_call", "shown"), [(0.075 / 9, "$0.0750"), (0.0004, "$0.0036")])
def test_dollar_amounts_read_the_same_everywhere_even_small_ones(
    report_runs, copy_run, per_call, shown
):
    run_dir = copy_run(report_runs["gome"])

    def cost(events):
        for event in events:
            if event["type"] == "llm_call":
                event["usage"]["usd"] = per_call
            elif event["type"] == "run_finished":
                event["usage"]["usd"] = per_call * 9
        return events

    _rewrite(run_dir, cost)
    page = render_report(run_dir)
    assert _card(page, "LLM")[0] == shown  # not "$0.07", not "$0.00"
    cells = re.findall(r"<td class=num>(\$[^<]*)</td>", _section(page, "llm"))
    assert cells[-1] == shown and all(re.fullmatch(r"\$\d+\.\d{4}", c) for c in cells)


def _tree_run(tmp_path: Path, lower_is_better: bool, scores: dict[str, float]) -> Path:
    """Two drafts A and B; C improves A, D improves B (a tree search)."""
    run = SyntheticRun(tmp_path / "tree", lower_is_better=lower_is_better)
    run.finish("A", scores["A"], at=1, new_best=True)
    run.finish("B", scores["B"], at=2, new_best=True)
    run.finish("C", scores["C"], at=3, operator="improve", parents=["A"])
    run.finish("D", scores["D"], at=4, operator="improve", parents=["B"])
    return run.write()


@pytest.mark.parametrize(
    ("lower_is_better", "scores", "c_says", "d_says"),
    [
        # C beats its parent by 20 but is no new best of the run: "valid", and 20 better.
        (True, {"A": 300, "B": 250, "C": 280, "D": 260}, "-20, better", "+10, worse"),
        (False, {"A": 0.7, "B": 0.9, "C": 0.8, "D": 0.85}, "+0.1, better", "-0.05, worse"),
    ],
)
def test_each_step_shows_its_score_against_its_parent(
    tmp_path, lower_is_better, scores, c_says, d_says
):
    page = render_report(_tree_run(tmp_path, lower_is_better, scores))
    c, d = _step_summary(page, "C"), _step_summary(page, "D")
    assert c.startswith("#3 C valid ") and f"vs parent A ({fmt(scores['A'])}): {c_says}" in c
    assert f"vs parent B ({fmt(scores['B'])}): {d_says}" in d
    assert "a draft: no parent to compare with" in _step_summary(page, "A")


def test_each_gome_step_shows_its_score_against_its_traces_best(report_runs, gome_html):
    run = load_run(report_runs["gome"])
    best: dict[int, tuple[str, float]] = {}
    checked = set()
    for step in run.steps:
        summary = _step_summary(gome_html, step.id)
        if step.buggy:
            assert " vs " not in summary
            continue
        if step.trace not in best:
            assert f"first valid step of trace {step.trace}" in summary
        else:
            ref_id, ref = best[step.trace]
            verdict = "better" if step.score < ref else "worse"  # mae: lower is better
            delta = f"{'+' if step.score > ref else '-'}{fmt(abs(step.score - ref), 4)}"
            assert f"vs trace best {ref_id} ({fmt(ref)}): {delta}, {verdict}" in summary
            checked.add(step.outcome)
        if step.outcome == "accepted":
            best[step.trace] = (step.id, step.score)
    assert checked == {"accepted", "rejected"}


def _in_flight_run(tmp_path: Path) -> SyntheticRun:
    run = SyntheticRun(tmp_path / "run")
    run.start("t0-000", at=0, trace=0).reasoning("t0-000", "Start with trees", at=1, trace=0)
    run.finish("t0-000", 300.0, at=10, trace=0, new_best=True)
    run.start("t0-001", at=10, operator="step", trace=0, parents=["t0-000"])
    run.reasoning("t0-001", "Regularise the trees <b>", at=100, trace=0)
    return run


def test_a_step_in_flight_shows_with_its_reasoning_and_elapsed_says_what_it_is(tmp_path):
    run = _in_flight_run(tmp_path)
    page = render_report(run.write())
    section = page.split(f'id="{anchor("t0-001")}"')[1].split("</details>")[0]
    assert '<details class="step o-running" id="step-t0-001" data-outcome="running">' in page
    assert _step_summary(page, "t0-001").startswith("t0-001 in flight step · trace 0")
    assert "Regularise the trees &lt;b&gt;" in section  # the journaled reasoning, escaped
    assert "Started, not finished at the last journal entry" in _text(section)
    assert 'class="node running" href="#step-t0-001"' in page
    assert _card(page, "finished steps") == ("1", "1 accepted, 0 rejected, 0 buggy; 1 in flight")
    # The last event came 90 s after the last finished step, at 10 s.
    value, detail = _card(page, "elapsed")
    assert value == "100.0 s" and "run time up to the last journal entry" in detail

    run.add("run_paused", at=101, reason="interrupted by Ctrl-C", steps=1, elapsed_s=101.0)
    page = render_report(run.write())
    assert _step_summary(page, "t0-001").startswith("t0-001 not finished (cut off)")
    assert "Resuming the run starts it again" in page
    assert _card(page, "status") == ("paused", "interrupted by Ctrl-C")
    assert _card(page, "elapsed") == ("101.0 s", "run time until it was paused")


def test_an_execution_outcome_is_the_result_types_own_with_gpu_telemetry(tmp_path):
    run = SyntheticRun(tmp_path / "run")
    oom = ExecutionResult(
        exit_code=1,
        wall_s=3.0,
        stderr_tail="torch.OutOfMemoryError: CUDA out of memory",
        gpu_out_of_memory=True,
        gpu_devices=("0", "1"),
        gpu_peak_memory_mb=80_123.4,
        gpu_utilization=97.2,
    )
    run.finish("t0-000", None, at=5, trace=0, result=oom)
    run.finish("t0-001", 1.0, at=6, trace=0, result=ExecutionResult(exit_code=0, wall_s=2.0))
    page = render_report(run.write())
    assert oom.outcome == "gpu-oom"
    assert (
        "Last run: GPU out of memory, exit 1, 3.0 s, GPU 0+1, 80123 MiB GPU peak, "
        "97% GPU utilisation" in page
    )
    assert "Last run: failed" not in page and "Last run: ok, exit 0, 2.0 s<" in page


def _render_within(path: Path, seconds: float) -> str:
    """The page, or a failure if rendering takes longer (a hang must not stall the suite)."""
    page: list[str] = []
    worker = threading.Thread(target=lambda: page.append(render_report(path)), daemon=True)
    worker.start()
    worker.join(seconds)
    assert page, f"rendering took more than {seconds} s"
    return page[0]


def test_scores_one_rounding_apart_are_charted(tmp_path):
    run = SyntheticRun(tmp_path / "run", lower_is_better=False, metric="accuracy")
    run.finish("a", 0.1 + 0.2, at=2, new_best=True)  # 0.30000000000000004
    run.finish("b", 0.3, at=4, parents=["a"], operator="improve")
    page = _render_within(run.write(), 30)
    assert _chart(page).count('class="tick"') >= 1


def test_a_chain_longer_than_pythons_recursion_limit_is_drawn(tmp_path):
    run = SyntheticRun(tmp_path / "run")
    for i in range(600):  # each step improves the one before: one long chain
        parents = [f"n{i - 1}"] if i else []
        run.finish(f"n{i}", 1000.0 - i, at=i + 1, parents=parents, operator="improve")
    page = _render_within(run.write(), 120)
    assert page.count('class="node') >= 600


def test_a_change_its_repair_dropped_is_shown_with_what_the_code_does_instead(tmp_path):
    run = SyntheticRun(tmp_path / "run")
    chosen = Hypothesis("Switch to k-nearest neighbours <knn>", edit={"model.family": "knn"})
    run.reasoning("t0-000", chosen.statement, at=1, trace=0)
    rewrite = Hypothesis("Debug: it failed (ValueError): the robust default pipeline.")
    repaired = Direction(rewrite, dropped=chosen)
    run.finish("t0-000", 3.0, at=5, trace=0, direction=repaired)
    section = _text(render_report(run.write()).split(f'id="{anchor("t0-000")}"')[1])
    assert "Chosen: Switch to k-nearest neighbours <knn>" in section
    assert (
        "Dropped by the repair: Switch to k-nearest neighbours <knn> (its code failed; the "
        "repaired code does this instead: Debug: it failed (ValueError): the robust default "
        "pipeline.)" in section
    )


def _chart(page: str) -> str:
    return page.split('<svg class="chart"')[1].split("</svg>")[0]


@pytest.mark.parametrize("lower_is_better", [True, False])
def test_the_score_chart_frames_the_bests_and_puts_buggy_steps_on_the_worse_side(
    tmp_path, lower_is_better
):
    # The scores of a real run whose lowest axis label (260) sat above its best (255.26).
    scores = [283.24, 276.1, 267.84, 255.74, 321.46, 255.26]
    if not lower_is_better:
        scores = [-s for s in scores]
    run = SyntheticRun(tmp_path / "run", lower_is_better=lower_is_better)
    for number, score in enumerate(scores):
        run.finish(f"t0-{number:03d}", score, at=number + 1, trace=0)
    run.finish("t0-009", None, at=9, trace=0, result=ExecutionResult(exit_code=1))
    chart = _chart(render_report(run.write()))
    ticks = [float(t) for t in re.findall(r'class="tick" x="58" [^>]*>([^<]+)<', chart)]
    assert min(ticks) <= min(scores) and max(ticks) >= max(scores), ticks
    top, height = (
        float(v)
        for v in re.search(
            r'class="frame" x="64" y="([\d.]+)" width="\d+" '
            r'height="([\d.]+)"',
            chart,
        ).groups()
    )
    mark_y = float(re.search(r'class="buggy-mark" d="M[\d.]+,([\d.]+)', chart).group(1)) + 4
    # Lower is better: bad scores go up, and so does the buggy mark; else both go down.
    worse = top + 0.1 * height if lower_is_better else top + 0.9 * height
    assert mark_y < worse if lower_is_better else mark_y > worse


def test_pauses_and_resumes_show_in_the_timeline_and_the_chart(report_runs, copy_run):
    run_dir = copy_run(report_runs["gome"])

    def pause_after_four(events):
        at = [i for i, e in enumerate(events) if e["type"] == "step_finished"][3]
        fourth = events[at]
        if events[at + 1]["type"] == "new_best":
            at += 1
        common = {"schema": 1, "steps": 4, "elapsed_s": fourth["elapsed_s"]}
        paused = {"type": "run_paused", "time": fourth["time"] + 1, **common}
        resumed = {"type": "run_resumed", "time": fourth["time"] + 3600, **common}
        paused["reason"] = "interrupted by Ctrl-C"
        return [*events[: at + 1], paused, resumed, *events[at + 1 :]]

    _rewrite(run_dir, pause_after_four)
    page = render_report(run_dir)
    timeline = _text(_section(page, "summary").split('class="timeline">')[1])
    assert re.search(
        r"started .* → paused .* after 4 steps: interrupted by Ctrl-C → resumed .*, 4 steps "
        r"replayed → finished .* \(budget\)",
        timeline,
    ), timeline
    assert _card(page, "status")[0] == "budget spent"
    assert _card(page, "elapsed")[1] == "run time, start to finish (pauses not counted)"
    assert _chart(page).count('class="resume"') == 1
    assert "Timeline" not in render_report(report_runs["gome"])  # no pause: no timeline


def test_one_main_and_no_stuttering_labels(gome_html, tree_html):
    for page in (gome_html, tree_html):
        assert page.count("<main") == 1
        summaries = [_text(s) for s in re.findall(r"<summary>(.*?)</summary>", page)]
        assert not any(re.search(r"\bbuggy buggy\b", s) for s in summaries)
        titles = re.findall(r"<title>([^<]*)</title>", page)
        assert not any("buggy, buggy" in t for t in titles)
    summaries = [_text(s) for s in re.findall(r"<summary>(.*?)</summary>", gome_html)]
    assert sum(re.match(r"#\d+ \S+ buggy ", s) is not None for s in summaries) == 4
