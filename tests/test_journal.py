import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from gome_core import (
    Candidate,
    Direction,
    ExecutionResult,
    Hypothesis,
    HypothesisScores,
    LLMRequest,
    Message,
    Node,
    Problem,
    ValidationReport,
)
from gome_core.journal import SCHEMA_VERSION, Journal, JournalError, from_data, to_data


def _node():
    problem = Problem("target is skewed", reasoning="long tail", category="data", critical=True)
    hyp = Hypothesis(
        "log-transform the target",
        component="features",
        problem=problem,
        scores=HypothesisScores(8, 7, 6, 9, 5),
    )
    candidate = Candidate.from_code(
        "t0-s3",
        "print('hi')",
        parents=("t0-s2",),
        operator="step",
        trace=0,
        direction=Direction(hyp, (problem,), (hyp,), "top-k", dropped=Hypothesis("use knn")),
    )
    result = ExecutionResult(
        exit_code=0, wall_s=1.5, stdout_tail="ok", produced=("a.csv",), workspace="/tmp/ws"
    )
    report = ValidationReport(
        validator="full-run", passed=True, score=0.91, level=2, details={"rows": 10}
    )
    return Node(candidate, result, (report,), score=0.91, analysis="better")


def test_value_types_round_trip_through_json():
    node = _node()
    data = json.loads(json.dumps(to_data(node)))
    assert data["candidate"]["files"] == {"main.py": "print('hi')"}
    assert from_data(data, Node) == node


def test_llm_request_schema_is_journaled_by_name():
    request = LLMRequest((Message.user("hi"),), schema=Hypothesis)
    assert to_data(request)["schema"] == "gome_core.types:Hypothesis"


def test_events_are_numbered_and_read_back(tmp_path):
    path = tmp_path / "journal.jsonl"
    with Journal(path) as journal:
        first = journal.append("run_started", competition="digits-8x8")
        journal.append("step_finished", node=_node())
    events = list(Journal.read(path))
    assert [e["seq"] for e in events] == [0, 1]
    assert events[0] == first and events[0]["schema"] == SCHEMA_VERSION
    assert from_data(events[1]["node"], Node) == _node()
    with Journal(path) as again:  # reopening continues the numbering
        assert again.append("resumed")["seq"] == 2


def test_a_torn_last_line_is_skipped_and_cut_off(tmp_path):
    path = tmp_path / "journal.jsonl"
    with Journal(path) as journal:
        journal.append("a")
        journal.append("b")
    with open(path, "ab") as f:
        f.write(b'{"seq":2,"type":"c","ti')  # a writer killed mid-line
    assert [e["type"] for e in Journal.read(path)] == ["a", "b"]
    with Journal(path) as journal:
        assert journal.append("c")["seq"] == 2
    assert [e["type"] for e in Journal.read(path)] == ["a", "b", "c"]


def test_damage_in_the_middle_is_an_error(tmp_path):
    path = tmp_path / "journal.jsonl"
    path.write_text('{"seq":0,"type":"a","schema":1}\nGARBAGE\n{"seq":2,"type":"b","schema":1}\n')
    with pytest.raises(JournalError, match="line 2"):
        list(Journal.read(path))


def test_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "journal.jsonl"
    path.write_text(json.dumps({"seq": 0, "type": "a", "schema": SCHEMA_VERSION + 1}) + "\n")
    with pytest.raises(JournalError, match="newer gome"):
        list(Journal.read(path))


@pytest.mark.parametrize("field", ["seq", "time", "schema"])
def test_an_event_may_not_hide_the_journals_own_fields(tmp_path, field):
    with Journal(tmp_path / "journal.jsonl") as journal:
        with pytest.raises(ValueError, match=f"{field} are reserved"):
            journal.append("llm_repair", round=1, **{field: "Diagnosis"})
        assert journal.append("llm_repair", round=1)["seq"] == 0  # nothing was written


def test_an_event_whose_own_field_hid_the_version_is_still_read(tmp_path):
    # Earlier versions wrote the LLM output's name over `schema` in `llm_repair` events.
    path = tmp_path / "journal.jsonl"
    path.write_text('{"seq":0,"type":"llm_repair","schema":"Diagnosis","round":1}\n')
    assert [e["round"] for e in Journal.read(path)] == [1]


def test_missing_journal_says_so(tmp_path):
    with pytest.raises(JournalError, match="no journal"):
        list(Journal.read(tmp_path / "nope.jsonl"))


def test_concurrent_appends_do_not_interleave(tmp_path):
    path = tmp_path / "journal.jsonl"
    with Journal(path, durable=False) as journal:
        threads = [
            threading.Thread(
                target=lambda: [journal.append("x", payload="y" * 5000) for _ in range(50)]
            )
            for _ in range(4)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    events = list(Journal.read(path))
    assert sorted(e["seq"] for e in events) == list(range(200))


def test_a_killed_writer_loses_nothing_it_reported(tmp_path):
    path = tmp_path / "journal.jsonl"
    code = (
        "import sys\nfrom gome_core.journal import Journal\n"
        f"j = Journal({str(path)!r})\n"
        "i = 0\n"
        "while True:\n"
        "    j.append('tick', i=i, pad='p' * 2000)\n"
        "    print(i, flush=True)\n"
        "    i += 1\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    reported = -1
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        reported = int(proc.stdout.readline())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    events = list(Journal.read(path))
    assert len(events) >= reported + 1
    assert [e["i"] for e in events] == list(range(len(events)))
