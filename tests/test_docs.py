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
