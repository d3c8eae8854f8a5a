"""Real (if minimal) installed distributions for plugin-discovery tests.

A ``*.dist-info`` folder with ``METADATA`` and ``entry_points.txt`` on ``sys.path`` is exactly what
pip leaves behind, so ``importlib.metadata`` finds these the way it finds any installed plugin.
"""

from __future__ import annotations

import textwrap
from pathlib import Path


def make_distribution(
    site: Path, name: str, version: str, entry_points: dict[str, str], modules: dict[str, str]
) -> Path:
    site.mkdir(parents=True, exist_ok=True)
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    lines = "".join(f"{key} = {value}\n" for key, value in entry_points.items())
    (info / "entry_points.txt").write_text(f"[gome]\n{lines}")
    for filename, source in modules.items():
        (site / filename).write_text(textwrap.dedent(source))
    return site


HELLO_PLUGIN = '''
    from attrs import frozen
    import gome_core
    from gome_core.executors.local import LocalExecutor, LocalExecutorConfig

    @frozen
    class Settings:
        greeting: str = "hello"

    class HelloValidator(gome_core.Validator):
        """Passes everything, politely."""
        def __init__(self, config):
            self.config = config
        def validate(self, node, context):
            return gome_core.ValidationReport.ok(self.config.greeting)

    @gome_core.hookimpl
    def register_validators(register):
        register(HelloValidator, name="hello", config=Settings)

    @gome_core.hookimpl
    def register_executors(register):
        register(LocalExecutor, name="hello-local", config=LocalExecutorConfig,
                 description="The local executor under another name.")

    @gome_core.hookimpl
    def register_presets(register):
        register({"validators": ["hello"], "budget": {"steps": 3}}, name="hello-preset",
                 description="Greets every candidate.", source="tests")
'''

BROKEN_PLUGIN = """
    import a_module_that_does_not_exist_anywhere
"""

DUPLICATE_PLUGIN = """
    import gome_core
    from gome_core.executors.local import LocalExecutor, LocalExecutorConfig

    @gome_core.hookimpl
    def register_executors(register):
        register(LocalExecutor, name="local", config=LocalExecutorConfig)
"""
