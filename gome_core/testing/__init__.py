"""A test kit for plugin authors: fixtures and conformance suites.

Installed as a pytest plugin (entry point ``pytest11``), so its fixtures are available in any test
suite once gome is installed:

* ``gome_registry_factory``: build a fresh, isolated registry from plugin objects;
* ``gome_plugin``: register a plugin for the duration of one test (it becomes the process-wide
  registry that ``gome`` commands and :func:`gome_core.get_registry` see).

Conformance suites are base classes with an abstract fixture that the plugin's own tests override
(optuna style)::

    from gome_core.testing import ExecutorSuite, PluginSuite

    class TestMyPlugin(PluginSuite):
        @pytest.fixture
        def plugin(self):
            import my_package.plugin
            return my_package.plugin

    class TestMyExecutor(ExecutorSuite):
        @pytest.fixture
        def executor(self, tmp_path):
            with MyExecutor(MyConfig(workspace_root=str(tmp_path), kill_grace_s=0.5)) as ex:
                yield ex

The same goes for LLM backends (``LLMBackendSuite``, with ``LLMServer`` speaking a provider's wire
format on 127.0.0.1) and cell runners (``CellRunnerSuite``).
"""

from __future__ import annotations

from gome_core.testing.cell_runners import CellRunnerSuite
from gome_core.testing.executors import ExecutorSuite
from gome_core.testing.llm_server import Fault, LLMServer, Malformed, RecordedRequest, Reply, Slow
from gome_core.testing.llm_suite import LLMBackendSuite
from gome_core.testing.suites import PluginSuite

__all__ = [
    "CellRunnerSuite",
    "ExecutorSuite",
    "Fault",
    "LLMBackendSuite",
    "LLMServer",
    "Malformed",
    "PluginSuite",
    "RecordedRequest",
    "Reply",
    "Slow",
]
