"""`gome run --llm openai:... / anthropic:...` against the local wire server, end to end.

The official SDKs talk real HTTP to a server on 127.0.0.1 that answers as a scripted model (real
programs, written by the offline reasoner's writer); candidates run in the real sandbox and the
final submission is graded.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.gome_llm.conftest import SECRET


def _events(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "journal.jsonl").read_text().splitlines()]


def _grep(root: Path, needle: str) -> list[Path]:
    hits = []
    for path in root.rglob("*"):
        if path.is_file() and needle.encode() in path.read_bytes():
            hits.append(path)
    return hits


@pytest.mark.slow
@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_gome_run_with_an_llm_completes_a_multi_trace_run(
    gome, scripted_server, provider, tmp_path
):
    run_dir = tmp_path / "run"
    url = scripted_server.openai_url if provider == "openai" else scripted_server.url
    env_var = f"{provider.upper()}_API_KEY"
    result = gome(
        "run",
        "--preset",
        "quickstart",
        "--task",
        "penguins-mass",
        "--llm",
        f"{provider}:scripted-model",
        "--steps",
        "4",
        "--run-dir",
        str(run_dir),
        "--set",
        f"llm.base_url={url!r}",
        "--set",
        "llm.max_retries=1",
        "--set",
        "engine.final_top_k=1",
        env={env_var: SECRET},
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"LLM {provider}:scripted-model" in result.stderr  # the header says which reasoning ran
    events = _events(run_dir)
    steps = [e for e in events if e["type"] == "step_finished"]
    assert len(steps) >= 4
    traces = {e["node"]["candidate"]["trace"] for e in steps}
    assert traces == {0, 1}  # two traces, both advanced
    reasoning = [e for e in events if e["type"] == "reasoning"]
    assert reasoning and all(e["direction"]["problems"] for e in reasoning)
    assert any(e["direction"]["selection"].startswith("llm selector") for e in reasoning)
    # The two traces' first drafts start together, yet the second chose after seeing the
    # first's direction in flight, and chose another.
    first_drafts = [e for e in reasoning if e["proposal"].endswith("-000")]
    assert sorted(e["seen"]["pursuing"] for e in first_drafts) == [0, 1]
    chosen = {e["direction"]["chosen"]["statement"] for e in first_drafts}
    assert len(chosen) == 2
    purposes = {e["purpose"] for e in events if e["type"] == "llm_call"}
    assert {"reasoning", "selection", "code", "judge"} <= purposes
    calls = scripted_server.model.calls
    assert calls["DiagnosisAnswer"] >= 2 and calls["CodeAnswer"] >= 4 and calls["JudgeAnswer"] >= 1
    # Every step is accounted for: tokens and cost in the journal and the final summary.
    finished = next(e for e in events if e["type"] == "run_finished")
    assert finished["usage"]["input_tokens"] > 0 and finished["usage"]["calls"] >= 10
    grading = json.loads((run_dir / "grading.json").read_text())
    assert grading["valid_submission"] and grading["score"] is not None
    # The key never lands anywhere: not in the run directory, its report, or what was printed.
    report = gome("report", str(run_dir), "-o", str(run_dir / "report.html"), timeout=120)
    assert report.returncode == 0, report.stderr[-2000:]
    assert (run_dir / "report.html").stat().st_size > 0
    assert _grep(run_dir, SECRET) == []
    assert SECRET not in result.stdout + result.stderr
    # ...and reached the server only in the header its SDK sends.
    first = scripted_server.requests[0]
    sent = first.headers.get("authorization", "") + first.headers.get("x-api-key", "")
    assert SECRET in sent
