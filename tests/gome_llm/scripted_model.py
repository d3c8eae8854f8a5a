"""A stand-in for a frontier model behind the local wire server.

It answers Gome's structured requests by their schema: a diagnosis that proposes switching model
families, a selector that takes the best-scored candidate, real programs (written by the offline
reasoner's writer for the family the direction names) and a judge that finds nothing wrong. With
``broken_drafts`` the first program of each trace fails, so the L1 self-repair path runs; with
``drop_on_repair`` a repair leaves the step's change out and says so.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

from gome_core.testing.llm_server import RecordedRequest, Reply

# The quickest to fit first: most runs here take two or three steps.
FAMILIES = ("linear", "hist_gbm", "extra_trees", "random_forest")
_SWITCH = re.compile(r"Switch the model family to (\w+)")


class ScriptedModel:
    def __init__(self, public_dir: Path, metric: str, lower_is_better: bool, **options) -> None:
        from gome_offline.profile import profile_competition

        self.profile = profile_competition(Path(public_dir), metric, lower_is_better)
        self.broken_drafts = options.get("broken_drafts", False)
        self.drop_on_repair = options.get("drop_on_repair", False)
        self.calls: dict[str, int] = {}
        self._lock = threading.Lock()

    def __call__(self, request: RecordedRequest) -> Reply:
        name = request.schema_name or "text"
        with self._lock:
            self.calls[name] = self.calls.get(name, 0) + 1
        prompt = request.last_user_text
        if name == "DiagnosisAnswer":
            return Reply(data=self.diagnosis(prompt), input_tokens=1200, output_tokens=300)
        if name == "SelectionAnswer":
            return Reply(data=self.selection(prompt), input_tokens=900, output_tokens=80)
        if name == "CodeAnswer":
            return Reply(data=self.code(prompt), input_tokens=2000, output_tokens=1500)
        if name == "RepairAnswer":
            answer = {**self.code(prompt), "kept_change": not self.drop_on_repair}
            return Reply(data=answer, input_tokens=2000, output_tokens=1500)
        if name == "JudgeAnswer":
            verdict = {
                "leakage": False,
                "metric_aligned": True,
                "overfitting": False,
                "reasons": "held-out folds; the metric matches",
            }
            return Reply(data=verdict, input_tokens=800, output_tokens=40)
        return Reply(text="ok")

    def diagnosis(self, prompt: str) -> dict:
        tried = set(_SWITCH.findall(prompt))
        fresh = [f for f in FAMILIES if f not in tried] or list(FAMILIES)
        problems, hypotheses = [], []
        for i, family in enumerate(fresh[:3]):
            problems.append(
                {
                    "statement": f"the current model may not suit the data ({i})",
                    "reasoning": "validation error is high for this data size",
                    "category": "model",
                    "expected_impact": "lower validation error",
                    "critical": False,
                }
            )
            hypotheses.append(
                {
                    "problem": i,
                    "statement": f"Switch the model family to {family}",
                    "component": "model",
                    "alignment": 8,
                    "impact": 8 - i,
                    "novelty": 7,
                    "feasibility": 9,
                    "risk_reward": 7,
                    "reasons": "a different inductive bias; fast on small tables",
                }
            )
        return {"problems": problems, "hypotheses": hypotheses}

    def selection(self, prompt: str) -> dict:
        first = re.search(r"^0\. (Switch the model family to \w+)", prompt, re.MULTILINE)
        statement = first.group(1) if first else "Switch the model family to linear"
        return {
            "choice": 0,
            "statement": statement,
            "component": "model",
            "rationale": "the best-scored candidate; nothing accepted elsewhere contradicts it",
        }

    def code(self, prompt: str) -> dict:
        from gome_offline.spec import default_spec
        from gome_offline.writer import write_program

        operator = re.search(r"# What to write: (\w+)", prompt)
        operator = operator.group(1) if operator else "draft"
        spec = default_spec(self.profile, max_folds=2)
        change = prompt.split("# The change to make", 1)[-1].split("# The base program", 1)[0]
        family = _SWITCH.search(change)
        if family and not (operator == "debug" and self.drop_on_repair):
            spec = spec.apply({"model.family": family.group(1)}, self.profile)
        program = write_program(spec, self.profile)
        if operator == "draft" and self.broken_drafts:
            program = "raise RuntimeError('the first draft forgot to load the data')\n"
        return {"plan": f"{operator}: {spec.model.family} pipeline", "code": program}
