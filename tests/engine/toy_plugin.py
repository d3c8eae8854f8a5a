"""A tiny but real agent for engine tests: y = a * x, with `a` moved by each direction.

The implementer writes genuine programs (standard library only, so they start fast) that honour the
candidate contract; the estimator proposes the next `a` from the trace's best. A step whose `a` is
"boom" raises inside the implementer, to test that a failing step does not stop the run.
"""

from __future__ import annotations

import json
import re

from attrs import frozen

import gome_core
from gome_core import (
    Candidate,
    CodeRequest,
    Direction,
    GradientEstimator,
    Hypothesis,
    Implementer,
    LLMBackend,
    LLMRequest,
    LLMResponse,
    LLMUsage,
    Message,
    RunContext,
    TraceState,
)

PROGRAM = """\
import csv, os, random, time
A = {a!r}
if int(os.environ.get("GOME_SEED", "0")) == {slow_seed}:
    time.sleep({slow_s})  # a slow run on this seed, for tests that stop a run while it runs
rows = list(csv.DictReader(open("input/train.csv")))
rng = random.Random(int(os.environ.get("GOME_SEED", "0")))
rng.shuffle(rows)
valid = rows[: max(2, len(rows) // 3)]
mae = sum(abs(float(r["y"]) - A * float(r["x"])) for r in valid) / len(valid)
with open("scores.csv", "w") as f:
    f.write(f"model,mae\\nlinear,{{mae}}\\nensemble,{{mae}}\\n")
test = list(csv.DictReader(open("input/test.csv")))
with open("submission/submission.csv", "w") as f:
    f.write("id,y\\n" + "".join(f"{{r['id']}},{{A * float(r['x'])}}\\n" for r in test))
print("validation mae", mae, "seed", os.environ.get("GOME_SEED"))
"""


@frozen
class ToyConfig:
    start: float = 0.5
    fail_at: int = -1  # the step number whose implementation raises
    crash_at: int = -1  # the step number whose program raises when it runs (its repair works)
    stray_at: int = -1  # the step number whose candidate also names a file outside its workspace
    slow_seed: int = -1  # runs with this GOME_SEED take `slow_s` seconds
    slow_s: float = 60.0
    stuck: bool = False  # the estimator proposes the starting `a` every time
    ask_llm: bool = False  # the estimator asks the run's LLM once per direction


@frozen
class PricedConfig:
    usd: float = 0.01  # per call


class PricedLLM(LLMBackend):
    """An LLM that answers "ok" for a fixed price per call."""

    def __init__(self, config: PricedConfig) -> None:
        self.config = config

    def complete(self, request: LLMRequest) -> LLMResponse:
        usage = LLMUsage(input_tokens=100, output_tokens=20, usd=self.config.usd, calls=1)
        return LLMResponse("ok", "priced-1", usage)


class ToyEstimator(GradientEstimator):
    """Moves `a` halfway towards 2 (the truth), per step."""

    def __init__(self, config: ToyConfig) -> None:
        self.config = config

    def estimate(self, state: TraceState, context: RunContext) -> Direction:
        if self.config.ask_llm and context.llm is not None:
            context.llm.complete(LLMRequest((Message.user("which a?"),), purpose="reasoning"))
        a = self.config.start + state.trace * 0.1
        if state.best is not None and not self.config.stuck:
            best = json.loads(state.best.candidate.files["a.json"])
            a = best + (2.0 - best) / 2  # never exactly 2: a perfect score reads as leakage
        hypothesis = Hypothesis(f"set a to {a}", component="model", edit={"a": a})
        return Direction(hypothesis, selection="toy")


class ToyImplementer(Implementer):
    """Writes the y = a * x program."""

    def __init__(self, config: ToyConfig) -> None:
        self.config = config

    def implement(self, request: CodeRequest, context: RunContext) -> Candidate:
        number = int(re.findall(r"\d+", request.candidate_id.split("~")[0])[-1])
        if number == self.config.fail_at and request.operator != "debug":
            raise RuntimeError("the toy implementer broke on purpose")
        a = request.direction.chosen.edit["a"] if request.direction else self.config.start
        program = PROGRAM.format(a=a, slow_seed=self.config.slow_seed, slow_s=self.config.slow_s)
        if number == self.config.crash_at and request.operator != "debug":
            program = "raise ValueError('bad')\n"
        files = {"main.py": program, "a.json": json.dumps(a)}
        if number == self.config.stray_at:
            files["../../stray.txt"] = "written outside the workspace"
        return Candidate(request.candidate_id, files, operator=request.operator)


@gome_core.hookimpl
def register_gradient_estimators(register):
    register(ToyEstimator, name="toy", config=ToyConfig)


@gome_core.hookimpl
def register_llm_backends(register):
    register(PricedLLM, name="toy-priced", config=PricedConfig)


@gome_core.hookimpl
def register_implementers(register):
    register(ToyImplementer, name="toy", config=ToyConfig)


@gome_core.hookimpl
def register_presets(register):
    register(
        {
            "optimizer": {"name": "gome", "traces": 2, "estimator": "toy", "implementer": "toy"},
            "validators": ["debug-run", "full-run", "judge"],
            "engine": {"workers": 2, "final_top_k": 2, "final_seeds": [1]},
            "executor": {"name": "local", "timeout_s": 30, "kill_grace_s": 1},
            "budget": {"steps": 6},
        },
        name="toy",
        description="The toy agent.",
        source="tests",
    )
