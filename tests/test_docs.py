"""Docs stay true: every hook is documented with its exact signature, and examples run."""

import inspect
import re
import types
from pathlib import Path

import pytest

from gome_core import Candidate, ExecutionResult, Node, hookspecs

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _hookspecs():
    for name, func in inspect.getmembers(hookspecs, inspect.isfunction):
        if hasattr(func, "gome_spec"):
            yield name, func


def _signature(name, func):
    sig = inspect.signature(func)
    params = ", ".join(f"{p.name}: {p.annotation}" for p in sig.parameters.values())
    return f"{name}({params}) -> {sig.return_annotation}"


def test_there_are_hookspecs():
    assert len(list(_hookspecs())) >= 12


@pytest.mark.parametrize("name", [name for name, _ in _hookspecs()])
def test_every_hook_is_documented_with_its_exact_signature(name):
    text = (DOCS / "plugins.md").read_text()
    signature = _signature(name, getattr(hookspecs, name))
    assert f"#### `{signature}`" in text, f"docs/plugins.md lacks a section for `{signature}`"


def test_the_types_in_hook_signatures_can_be_imported_from_gome_core():
    import builtins

    import gome_core

    # Builtins, and Mapping and Any from the standard library, as docs/plugins.md says.
    elsewhere = set(dir(builtins)) | {"Mapping", "Any", "None"}
    used = {
        word
        for _name, func in _hookspecs()
        for param in inspect.signature(func).parameters.values()
        for word in re.findall(r"\w+", param.annotation)
    }
    ours = used - elsewhere
    assert {"RegisterComponent", "RegisterPreset", "RunInfo"} <= ours
    assert [name for name in sorted(ours) if not hasattr(gome_core, name)] == []


def test_every_hook_has_a_docstring():
    for name, func in _hookspecs():
        assert func.__doc__ and len(func.__doc__.strip()) > 20, name


def _python_blocks(path):
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S)


@pytest.mark.parametrize("path", sorted(DOCS.glob("*.md")), ids=lambda p: p.name)
def test_python_examples_compile(path):
    for block in _python_blocks(path):
        compile(block, str(path), "exec")


def test_the_plugin_guide_example_runs(gome_registry_factory):
    block = _python_blocks(DOCS / "plugins.md")[0]
    module = types.ModuleType("guide_example")
    exec(compile(block, "plugins.md", "exec"), module.__dict__)
    registry = gome_registry_factory(module)
    validator = registry.create("validator", "runtime-limit")
    slow = Node(Candidate.from_code("c", ""), ExecutionResult(exit_code=0, wall_s=4000), score=1.0)
    assert not validator.validate(slow, context=None).passed
    # It runs after the built-in runs that measure the time, so it sees their result.
    from gome_validators import DebugRunValidator, FullRunValidator, JudgeValidator

    builtin = (DebugRunValidator, FullRunValidator, JudgeValidator)
    assert validator.level > max(v.level for v in builtin)


def test_the_guide_s_validator_that_runs_the_candidate_reports_its_run(tmp_path):
    (block,) = [b for b in _python_blocks(DOCS / "plugins.md") if "class SmokeRunValidator" in b]
    namespace: dict = {}
    exec(compile(block, "plugins.md", "exec"), namespace)
    from gome_core import CompetitionRef, Metric, RunContext
    from gome_core.executors import LocalExecutor

    smoke = namespace["SmokeRunValidator"]()
    code = "import os, sys\nsys.exit(0 if os.environ.get('SMOKE') == '1' else 3)\n"
    broken = "import os, sys\nsys.exit(3 if os.environ.get('SMOKE') == '1' else 0)\n"
    competition = CompetitionRef("toy", tmp_path, "a toy", Metric("acc"))
    with LocalExecutor() as executor:
        context = RunContext(competition=competition, executor=executor)
        passed = smoke.validate(Node(Candidate.from_code("good", code)), context)
        failed = smoke.validate(Node(Candidate.from_code("bad", broken)), context)
    assert passed.passed and passed.result.exit_code == 0
    assert passed.details["wall_s"] == passed.result.wall_s
    assert not failed.passed and failed.result.exit_code == 3
    assert failed.reasons == ("the smoke run ended: failed",)


def test_the_configuration_guide_example_runs(capsys):
    block = _python_blocks(DOCS / "configuration.md")[0]
    exec(compile(block, "configuration.md", "exec"), {})
    out = capsys.readouterr().out
    assert out.startswith("600.0\n") and "timeout_s = 600.0" in out


def test_the_engine_guide_reuse_example_runs():
    (block,) = _python_blocks(DOCS / "engine.md")
    namespace: dict = {}
    exec(compile(block, "engine.md", "exec"), namespace)
    from gome_core.executors import LocalExecutor, ReusingExecutor

    with namespace["executor"] as executor:
        assert isinstance(executor, ReusingExecutor) and isinstance(executor.inner, LocalExecutor)
