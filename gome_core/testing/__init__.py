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
format on 127.0.0.1) and cell runners (``CellRunnerSuite``). The suites need pytest; ``LLMServer``
and its answers do not, and import without it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gome_core.testing.cell_runners import CellRunnerSuite
    from gome_core.testing.executors import ExecutorSuite
    from gome_core.testing.llm_server import (
        Fault,
        LLMServer,
        Malformed,
        RecordedRequest,
        Reply,
        Slow,
    )
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

# Imported on first use: the suites need pytest (a test dependency), the LLM server does not,
# and scripts use the server without pytest installed.
_MODULES = {
    "CellRunnerSuite": "cell_runners",
    "ExecutorSuite": "executors",
    "Fault": "llm_server",
    "LLMBackendSuite": "llm_suite",
    "LLMServer": "llm_server",
    "Malformed": "llm_server",
    "PluginSuite": "suites",
    "RecordedRequest": "llm_server",
    "Reply": "llm_server",
    "Slow": "llm_server",
}


def __getattr__(name: str) -> Any:
    if name not in _MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_MODULES[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
