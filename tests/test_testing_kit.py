"""The test kit (``gome_core.testing``) holds plugins to account, and only the plugins under test.

The suites run here as a plugin author runs them, with pytest in a fresh interpreter, against
small plugins that each break one rule: every check is seen failing the plugin that breaks it,
and passing the ones that keep it.
"""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
import textwrap
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import attrs
import pytest

from gome_core import get_registry, hookimpl
from gome_core.errors import PluginLoadError
from gome_core.testing import PluginSuite
from tests.plugin_dists import BROKEN_PLUGIN, HELLO_PLUGIN, make_distribution

DOCS = Path(__file__).resolve().parents[1] / "docs"

# A plugin that keeps every rule, installed with an entry point (as after `pip install -e .`).
GOOD_PLUGIN = '''
    from attrs import frozen
    import gome_core

    @frozen
    class Settings:
        tags: tuple[str, ...] = ("fast",)

    class Tagged(gome_core.Validator):
        """Passes everything, with tags."""
        def __init__(self, config):
            self.config = config
        def validate(self, node, context):
            return gome_core.ValidationReport.ok("tagged")

    @gome_core.hookimpl
    def register_validators(register):
        register(Tagged, name="kit-tagged", config=Settings)

    @gome_core.hookimpl
    def register_presets(register):
        register({"validators": ["kit-tagged"]}, name="kit-good", description="Tags.",
                 with_llm={"optimizer": {"name": "gome", "implementer": "llm"}})
'''

# Installed beside it, not under test: one that cannot be imported, one with a misspelt hook.
TYPO_PLUGIN = """
    import gome_core

    @gome_core.hookimpl
    def register_validator(register):  # the hook is register_validators
        pass
"""

SET_CONFIG_PLUGIN = '''
    from attrs import field, frozen
    import gome_core

    @frozen
    class Settings:
        skip: frozenset[str] = field(factory=lambda: frozenset({"knn"}), converter=frozenset)

    class Skipper(gome_core.Validator):
        """Passes everything, skipping some models."""
        def __init__(self, config):
            self.config = config
        def validate(self, node, context):
            return gome_core.ValidationReport.ok("skipper")

    @gome_core.hookimpl
    def register_validators(register):
        register(Skipper, name="kit-skipper", config=Settings)
'''

BROKEN_OVERLAY_PLUGIN = """
    import gome_core

    @gome_core.hookimpl
    def register_presets(register):
        register({"budget": {"steps": 5}}, name="kit-overlay", description="A broken overlay.",
                 with_llm={"optimizer": {"name": "gome", "implementer": "no-such-implementer"}})
"""

EXECUTORS = """
    import json

    import attrs

    from gome_core.executors import ExecutorWrapper
    from gome_core.executors.local import LocalExecutor, LocalExecutorConfig


    def sandbox(tmp_path):
        return LocalExecutor(
            LocalExecutorConfig(workspace_root=str(tmp_path / "ws"), kill_grace_s=0.5)
        )


    class Leaky(ExecutorWrapper):
        '''Passes request.env on in the candidate's own code, past the sandbox's refusal.'''

        def run(self, request):
            if request.candidate is None or "main.py" not in request.candidate.files:
                return self.inner.run(request)
            env = json.dumps(dict(request.env))
            files = {**request.candidate.files}
            files["main.py"] = f"import os; os.environ.update({env})\\n" + files["main.py"]
            candidate = attrs.evolve(request.candidate, files=files)
            return self.inner.run(attrs.evolve(request, candidate=candidate, env={}))


    class NeverClosed(ExecutorWrapper):
        '''Ignores close(): runs go on after it.'''

        def close(self):
            pass
"""

TESTS = """
    import pytest
    from gome_openai import OpenAIBackend, OpenAIConfig

    import gome_kit_good
    import kit_acme
    import kit_executors
    import kit_overlay
    import kit_set_config
    from gome_core.testing import ExecutorSuite, LLMBackendSuite, PluginSuite


    class TestGood(PluginSuite):
        @pytest.fixture
        def plugin(self):
            return gome_kit_good


    class TestSetConfig(PluginSuite):
        @pytest.fixture
        def plugin(self):
            return kit_set_config


    class TestOverlay(PluginSuite):
        @pytest.fixture
        def plugin(self):
            return kit_overlay


    class TestAcme(PluginSuite):
        @pytest.fixture
        def plugin(self):
            return kit_acme


    class TestLeaky(ExecutorSuite):
        @pytest.fixture
        def executor(self, tmp_path):
            with kit_executors.Leaky(kit_executors.sandbox(tmp_path)) as executor:
                yield executor


    class TestNeverClosed(ExecutorSuite):
        @pytest.fixture
        def executor(self, tmp_path):
            inner = kit_executors.sandbox(tmp_path)
            with kit_executors.NeverClosed(inner) as executor:
                yield executor
            inner.close()


    class Deaf(OpenAIBackend):
        def interrupt(self):
            pass  # never gives up a wait


    class TestDeaf(LLMBackendSuite):
        @pytest.fixture
        def backend(self, llm_server, llm_settings):
            backend = Deaf(OpenAIConfig(base_url=llm_server.openai_url, **llm_settings))
            yield backend
            backend.close()
"""


def _acme_example() -> str:
    """The Acme backend plugin of docs/llm-backends.md, as written there."""
    blocks = re.findall(r"```python\n(.*?)```", (DOCS / "llm-backends.md").read_text(), re.S)
    (source,) = [block for block in blocks if "class AcmeBackend" in block]
    return source


@attrs.frozen
class SuitesRun:
    """What the author's pytest run said: ``Class::test`` -> (outcome, message), and its output."""

    verdicts: dict[str, tuple[str, str]]
    output: str

    def failure(self, test: str) -> str:
        """The failure message of ``test``, which must have failed."""
        outcome, message = self.verdicts[test]
        assert outcome == "failure", f"{test}: {outcome}"
        return message


@pytest.fixture(scope="module")
def suites(tmp_path_factory: pytest.TempPathFactory) -> SuitesRun:
    """Run the suites against the plugins above, as their author would."""
    root = tmp_path_factory.mktemp("kit")
    site = root / "site"
    make_distribution(site, "gome-kit-good", "1.0", {"kit-good": "gome_kit_good"}, {})
    make_distribution(site, "gome-kit-broken", "1.0", {"kit-broken": "gome_kit_broken"}, {})
    make_distribution(site, "gome-kit-typo", "1.0", {"kit-typo": "gome_kit_typo"}, {})
    modules = {
        "gome_kit_good.py": GOOD_PLUGIN,
        "gome_kit_broken.py": BROKEN_PLUGIN,
        "gome_kit_typo.py": TYPO_PLUGIN,
        "kit_set_config.py": SET_CONFIG_PLUGIN,
        "kit_overlay.py": BROKEN_OVERLAY_PLUGIN,
        "kit_executors.py": EXECUTORS,
        "test_kit.py": TESTS,
    }
    for name, source in modules.items():
        (site / name).write_text(textwrap.dedent(source))
    (site / "kit_acme.py").write_text(_acme_example())
    env = {k: v for k, v in os.environ.items() if k not in ("ACME_API_KEY", "PYTEST_ADDOPTS")}
    env["PYTHONPATH"] = os.pathsep.join([str(site), *sys.path])  # this run's gome, and the plugins
    selected = [
        "TestGood",
        "TestSetConfig",
        "TestOverlay",
        "TestAcme",
        "TestLeaky::test_secrets_never_reach_the_candidate",
        "TestNeverClosed::test_close_refuses_later_runs",
        "TestDeaf::test_interrupt_ends_a_wait_at_once",
    ]
    report = root / "report.xml"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-W", "default"]
        + [f"--junitxml={report}", *(f"test_kit.py::{node}" for node in selected)],
        cwd=site,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert report.exists(), run.stdout[-3000:] + run.stderr[-3000:]
    verdicts = {}
    for case in ET.parse(report).iter("testcase"):
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        name = f"{case.get('classname', '').rsplit('.', 1)[-1]}::{case.get('name')}"
        outcome = "passed" if problem is None else problem.tag
        verdicts[name] = (outcome, "" if problem is None else problem.get("message", ""))
    return SuitesRun(verdicts, run.stdout)


@pytest.mark.slow
@pytest.mark.xdist_group("testing-kit")  # one run of the suites serves them all
class TestTheSuitesVerdicts:
    def test_an_installed_plugin_passes_beside_broken_ones_it_does_not_answer_for(self, suites):
        checks = {name for name in dir(PluginSuite) if name.startswith("test_")}
        good = {name: suites.verdicts[f"TestGood::{name}"] for name in checks}
        assert all(outcome == "passed" for outcome, _ in good.values()), good
        assert "left out the installed plugin 'kit-broken'" in suites.output

    def test_a_config_that_toml_cannot_hold_fails(self, suites):
        message = suites.failure("TestSetConfig::test_configs_are_written_as_toml_and_read_back")
        assert "validator 'kit-skipper'" in message and "frozenset" in message
        others = [v for name, v in suites.verdicts.items() if name.startswith("TestSetConfig::")]
        assert [outcome for outcome, _ in others].count("passed") == len(others) - 1

    def test_a_preset_whose_llm_overlay_does_not_resolve_fails(self, suites):
        assert "no-such-implementer" in suites.failure("TestOverlay::test_presets_resolve")

    def test_the_docs_backend_builds_from_its_defaults_without_a_key(self, suites):
        test = "TestAcme::test_components_build_from_default_config"
        assert suites.verdicts[test][0] == "passed"

    def test_an_executor_that_passes_a_secret_from_request_env_on_fails(self, suites):
        assert "MY_API_KEY" in suites.failure("TestLeaky::test_secrets_never_reach_the_candidate")

    def test_an_executor_that_runs_after_close_fails(self, suites):
        message = suites.failure("TestNeverClosed::test_close_refuses_later_runs")
        assert "a run after close() ran" in message

    @pytest.mark.parametrize("waiting_for", ["the answer", "a retry"])
    def test_a_backend_that_ignores_interrupt_fails(self, suites, waiting_for):
        message = suites.failure(f"TestDeaf::test_interrupt_ends_a_wait_at_once[{waiting_for}]")
        assert "expected LLMUnavailableError" in message or "went on" in message


# -- the fixtures, in this process


def _install(site: Path, source: str) -> tuple[str, str]:
    """Install ``source`` as a plugin distribution: its entry point's name and its module's."""
    module = f"gome_kit_{uuid.uuid4().hex[:8]}"
    entry_point = module.replace("_", "-")
    make_distribution(site, entry_point, "1.0", {entry_point: module}, {f"{module}.py": source})
    return entry_point, module


def test_gome_plugin_takes_a_plugin_that_is_also_installed(site, gome_plugin):
    entry_point, module = _install(site, HELLO_PLUGIN)
    registry = gome_plugin(importlib.import_module(module))
    assert get_registry() is registry
    assert registry.get("validator", "hello").plugin.name == entry_point  # not a second copy


def test_gome_registry_factory_takes_a_plugin_that_is_also_installed(site, gome_registry_factory):
    entry_point, module = _install(site, HELLO_PLUGIN)
    registry = gome_registry_factory(importlib.import_module(module), entry_points=True)
    assert registry.get("validator", "hello").plugin.name == entry_point


def test_an_installed_plugin_that_fails_to_load_is_left_out_with_a_warning(site, gome_plugin):
    broken, _ = _install(site, BROKEN_PLUGIN)

    class Mine:
        @hookimpl
        def register_presets(self, register):
            register({"seed": 3}, name="kit-mine", description="Mine.")

    with pytest.warns(UserWarning, match=f"left out the installed plugin '{broken}'"):
        registry = gome_plugin(Mine())
    assert registry.preset("kit-mine").plugin.name == "Mine"
    assert broken not in {p.name for p in registry.plugins}


def test_the_plugin_under_test_is_still_held_to_account(gome_plugin):
    class Broken:
        @hookimpl
        def register_validators(self, register):
            register(object(), name="not-callable")

    with pytest.raises(PluginLoadError, match="plugin 'Broken'"):
        gome_plugin(Broken())


# -- the package imports without pytest


def test_the_llm_server_imports_without_pytest():
    code = textwrap.dedent(
        """
        import sys

        class NoPytest:  # as where pytest, a test dependency, is not installed
            def find_spec(self, name, path=None, target=None):
                if name.partition(".")[0] in ("pytest", "_pytest"):
                    raise ModuleNotFoundError(f"No module named {name!r}", name=name)

        sys.meta_path.insert(0, NoPytest())
        import gome_core.testing
        from gome_core.testing import LLMServer, Reply
        from gome_core.testing.llm_server import LLMServer as Same

        assert LLMServer is Same and "pytest" not in sys.modules
        with LLMServer() as server:
            server.script(Reply("hi"))
        try:
            from gome_core.testing import PluginSuite
        except ModuleNotFoundError as exc:
            print("suites:", exc.name)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "suites: pytest"


def test_every_name_the_package_exports_imports():
    import gome_core.testing

    for name in gome_core.testing.__all__:
        assert getattr(gome_core.testing, name).__name__ == name
    assert set(gome_core.testing.__all__) <= set(dir(gome_core.testing))
