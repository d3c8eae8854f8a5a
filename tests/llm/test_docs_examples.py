"""docs/llm-backends.md stays true: its examples run."""

from __future__ import annotations

import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

from gome_core import UsageError
from gome_core.llm import json_schema

DOC = Path(__file__).resolve().parents[2] / "docs" / "llm-backends.md"


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)


def test_the_context_example_fits_its_prompt(capsys):
    namespace: dict = {}
    exec(compile(_blocks()[0], "llm-backends.md", "exec"), namespace)
    fitted, prompt = namespace["fitted"], namespace["prompt"]
    # A small prompt fits whole: every section is in it, nothing dropped, nothing printed.
    assert fitted.dropped == ()
    assert all(text in prompt for text in ("Predict y.", "print(1)", "step 2 ...", "Traceback"))
    assert capsys.readouterr().out == ""


def test_the_schema_example_builds_a_strict_schema():
    namespace: dict = {}
    exec(compile(_blocks()[1], "llm-backends.md", "exec", dont_inherit=True), namespace)
    schema = json_schema(namespace["Diagnosis"])
    assert schema["properties"]["problems"]["maxItems"] == 5
    assert namespace["request"].schema is namespace["Diagnosis"]


def test_the_plugin_example_registers_and_asks_for_its_key(gome_registry_factory, monkeypatch):
    module = types.ModuleType("acme_plugin")
    exec(compile(_blocks()[2], "llm-backends.md", "exec"), module.__dict__)
    registry = gome_registry_factory(module)
    monkeypatch.delenv("ACME_API_KEY", raising=False)
    with pytest.raises(UsageError, match="ACME_API_KEY"):
        registry.create("llm", "acme")
    monkeypatch.setenv("ACME_API_KEY", "sk-acme-0123456789")
    backend = registry.create("llm", "acme")
    assert "sk-acme" not in repr(backend)


def test_the_llm_package_imports_no_vendor_sdk():
    code = (
        "import sys, gome_core.llm, gome_core.llm.replay, gome_core.testing.llm_suite\n"
        "print(sorted({'openai', 'anthropic', 'httpx2', 'pydantic'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
