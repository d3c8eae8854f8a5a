"""The report in a real browser (headless Chromium): it loads with no console error, requests
nothing but itself, runs no injected script, reads well (a screenshot), and its parts work.

Set ``GOME_REPORT_SCREENSHOTS=DIR`` to keep the screenshots for a look.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import pytest

from gome_core.report import load_run, write_report
from gome_core.report.svg import anchor
from tests.report.chromium import Browser, find_chromium
from tests.report.hostile_plugin import ATTR, PAYLOAD

pytestmark = pytest.mark.browser

CHROMIUM = find_chromium()


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip(
            "no Chromium binary found (looked for GOME_CHROMIUM, chromium, chromium-browser, "
            "google-chrome): install it with `apt-get install -y chromium` to run browser tests"
        )
    with Browser(CHROMIUM, width=1280, height=2000) as b:
        yield b


@pytest.fixture(scope="module")
def pages(report_runs, tmp_path_factory):
    out = tmp_path_factory.mktemp("pages")
    return {name: write_report(path, out / f"{name}.html") for name, path in report_runs.items()}


def _open(browser: Browser, page: Path) -> None:
    browser.console.clear()
    browser.exceptions.clear()
    browser.dialogs.clear()
    browser.requests.clear()
    browser.open(page.as_uri())


def _shot(browser: Browser, name: str, tmp_path: Path) -> Path:
    folder = Path(os.environ.get("GOME_REPORT_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    path = browser.screenshot(folder / f"report-{name}.png")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert width == 1280 and height > 1500  # the whole page, not a blank viewport
    return path


def test_the_detector_catches_an_injected_script(browser, tmp_path):
    """The control: an unescaped payload does run here, so the checks below would see one."""
    page = tmp_path / "unsafe.html"
    page.write_text(f"<!DOCTYPE html><title>x</title><p>{PAYLOAD}</p>")
    _open(browser, page)
    assert browser.dialogs == ["1"]


@pytest.mark.parametrize("name", ["gome", "tree"])
def test_the_page_loads_cleanly_and_runs_nothing_injected(
    browser, pages, report_runs, name, tmp_path
):
    _open(browser, pages[name])
    assert browser.errors() == []
    assert browser.dialogs == []  # no alert() from the payloads in code, outputs and reasons
    assert browser.requests == [pages[name].as_uri()]  # nothing from the network
    facts = browser.evaluate(
        """({
        scripts: document.scripts.length,
        images: document.images.length,
        handlers: document.querySelectorAll('[onerror],[onmouseover],[onload]').length,
        payloadAsText: document.body.textContent.includes(%s),
        title: document.title,
        })""".replace("%s", json.dumps(PAYLOAD))
    )
    assert facts == {
        "scripts": 1,
        "images": 0,
        "handlers": 0,
        "payloadAsText": True,
        "title": f"gome report: {load_run(report_runs[name]).run_id}",
    }
    browser.evaluate("document.querySelectorAll('details.step').forEach(d => d.open = true)")
    assert browser.errors() == [] and browser.dialogs == []
    _shot(browser, name, tmp_path)


def test_the_gome_page_shows_every_part(browser, pages, report_runs):
    run = load_run(report_runs["gome"])
    _open(browser, pages["gome"])
    facts = browser.evaluate(
        """(() => {
        const text = s => (document.querySelector(s) || {}).textContent || '';
        const step = document.getElementById(STEP);
        return {
          sections: [...document.querySelectorAll('main section')].map(s => s.id),
          steps: document.querySelectorAll('details.step').length,
          outcomes: [...document.querySelectorAll('details.step')].map(d => d.dataset.outcome),
          treeNodes: document.querySelectorAll('svg.tree a.node').length,
          treeDots: [...document.querySelectorAll('svg.tree .dot')].map(c => c.classList[1]),
          traceLabels: [...document.querySelectorAll('svg.tree text.group')]
            .map(t => t.textContent),
          finalRingInTree: document.querySelectorAll('svg.tree .final-ring').length,
          chartLines: document.querySelectorAll('svg.chart polyline.best').length,
          chartPoints: document.querySelectorAll('svg.chart a.point').length,
          problems: step.querySelectorAll('ul.problems li').length,
          hypotheses: step.querySelectorAll('table tr.chosen').length,
          selection: [...step.querySelectorAll('p')]
            .find(p => p.textContent.startsWith('Selection:')).textContent,
          diffAdds: step.querySelectorAll('pre.diff .add').length,
          codeText: step.querySelector('details.sub pre').textContent,
          llm: text('#llm'),
          final: text('#final'),
          grading: text('#grading'),
          summary: text('#summary'),
        };
        })()""".replace("STEP", json.dumps(anchor("t0-002")))
    )
    assert facts["sections"] == [
        "summary",
        "tree",
        "scores",
        "final",
        "grading",
        "llm",
        "steps",
        "config",
    ]
    assert facts["steps"] == facts["treeNodes"] == facts["chartPoints"] == len(run.steps) == 9
    assert facts["outcomes"] == [s.outcome for s in run.steps]
    assert set(facts["treeDots"]) == {"o-accepted", "o-rejected", "o-buggy"}
    assert facts["traceLabels"] == ["trace 0", "trace 1"] and facts["finalRingInTree"] == 1
    assert facts["chartLines"] == 2
    assert facts["problems"] == 2 and facts["hypotheses"] == 1
    assert facts["selection"] == f"Selection: top-k {ATTR}"  # the raw text, shown as text
    assert facts["diffAdds"] >= 1 and PAYLOAD in facts["codeText"]
    assert "scripted-1" in facts["llm"] and "$0.1125" in facts["llm"]
    assert run.final_id in facts["final"] and "seed 1" in facts["final"]
    assert "bronze_threshold" in facts["grading"] and "medal" in facts["grading"]
    assert "4 accepted, 1 rejected, 4 buggy" in facts["summary"]
    assert browser.errors() == []


def test_clicking_a_tree_node_opens_its_step_and_filters_work(browser, pages, report_runs):
    rejected = next(s.id for s in load_run(report_runs["gome"]).steps if s.outcome == "rejected")
    _open(browser, pages["gome"])
    target = anchor(rejected)
    opened = browser.evaluate(
        """(async () => {
        document.querySelector('svg.tree a.node[data-node=NODE]')
          .dispatchEvent(new MouseEvent('click', {bubbles: true, cancelable: true}));
        await new Promise(r => setTimeout(r, 100));
        return [location.hash, document.getElementById(TARGET).open];
        })()""".replace("NODE", json.dumps(rejected)).replace("TARGET", json.dumps(target))
    )
    assert opened == [f"#{target}", True]
    shown = browser.evaluate(
        """(() => {
        document.querySelector('.toolbar').hidden === false || (() => { throw 'no toolbar' })();
        document.querySelector('[data-filter="buggy"]').click();
        const visible = [...document.querySelectorAll('details.step')].filter(d => !d.hidden);
        const outcomes = visible.map(d => d.dataset.outcome);
        document.querySelector('[data-expand="open"]').click();
        const open = visible.every(d => d.open);
        document.querySelector('[data-filter="all"]').click();
        return {outcomes, open,
                all: [...document.querySelectorAll('details.step')].filter(d => !d.hidden).length};
        })()"""
    )
    assert shown["outcomes"] == ["buggy"] * 4 and shown["open"] and shown["all"] == 9
    assert browser.errors() == []


def test_long_output_lines_stay_inside_their_column(browser, report_runs, copy_run, tmp_path):
    run_dir = copy_run(report_runs["gome"])
    step = next(s for s in load_run(run_dir).steps if s.outcome == "accepted")
    (run_dir / "nodes" / step.id / "stdout.txt").write_text("epoch 1 " + "x" * 5000 + "\n")
    page = write_report(run_dir, tmp_path / "long.html")
    _open(browser, page)
    sizes = browser.evaluate(
        """(() => {
        const step = document.getElementById(STEP);
        step.open = true;
        const main = document.querySelector('main').getBoundingClientRect();
        const panes = [...step.querySelectorAll('.grid2 > div')]
          .map(d => d.getBoundingClientRect());
        return {page: document.documentElement.scrollWidth, view: window.innerWidth,
                right: main.right, panes: panes.map(p => [p.left, p.right])};
        })()""".replace("STEP", json.dumps(anchor(step.id)))
    )
    assert sizes["page"] <= sizes["view"], sizes  # no sideways scroll for the whole page
    (left_a, right_a), (left_b, right_b) = sizes["panes"]
    assert right_a <= left_b and right_b <= sizes["right"], sizes  # stderr stays on the page
    assert right_a - left_a == pytest.approx(right_b - left_b, abs=1)  # two equal columns


def test_outcomes_differ_in_shape_not_only_in_colour(browser, pages):
    _open(browser, pages["gome"])
    shapes = browser.evaluate(
        """(() => {
        const shapes = {};
        document.querySelectorAll('svg.tree .dot').forEach(d => {
          (shapes[d.classList[1]] = shapes[d.classList[1]] || new Set()).add(d.tagName);
        });
        const legend = {};
        document.querySelectorAll('#tree .legend i').forEach(i => {
          const s = getComputedStyle(i);
          legend[i.className] = [s.borderRadius, s.transform, s.content || ''].join(' ');
          legend[i.className] += ' ' + getComputedStyle(i, '::after').content;
        });
        return {tree: Object.fromEntries(Object.entries(shapes).map(([k, v]) => [k, [...v]])),
                legend};
        })()"""
    )
    assert shapes["tree"] == {"o-accepted": ["circle"], "o-rejected": ["path"], "o-buggy": ["rect"]}
    legend = shapes["legend"]
    assert len({legend["o-accepted"], legend["o-rejected"], legend["o-buggy"]}) == 3, legend


def test_opening_a_step_a_filter_hides_resets_the_filter(browser, pages, report_runs):
    accepted = next(s.id for s in load_run(report_runs["gome"]).steps if s.outcome == "accepted")
    _open(browser, pages["gome"])
    state = browser.evaluate(
        """(async () => {
        document.querySelector('[data-filter="buggy"]').click();
        const target = document.getElementById(TARGET);
        const hiddenBefore = target.hidden;
        document.querySelector('svg.tree a.node[data-node=NODE]')
          .dispatchEvent(new MouseEvent('click', {bubbles: true, cancelable: true}));
        await new Promise(r => setTimeout(r, 100));
        const active = [...document.querySelectorAll('.toolbar button.active')];
        return {
          hiddenBefore, open: target.open, hidden: target.hidden,
          active: active.map(b => b.dataset.filter),
          pressed: [...document.querySelectorAll('[aria-pressed="true"]')]
            .map(b => b.dataset.filter),
          shown: [...document.querySelectorAll('details.step')].filter(d => !d.hidden).length,
        };
        })()""".replace("NODE", json.dumps(accepted)).replace(
            "TARGET", json.dumps(anchor(accepted))
        )
    )
    assert state == {
        "hiddenBefore": True,
        "open": True,
        "hidden": False,
        "active": ["all"],
        "pressed": ["all"],
        "shown": 9,
    }
    assert browser.errors() == []
