"""The plugin's own tests: gome's conformance suites plus its specifics."""

import gome_venv_executor
import pytest
from gome_venv_executor import VenvExecutor, VenvExecutorConfig

from gome_core import Candidate, ExecutionRequest
from gome_core.executors.local import LocalExecutorConfig
from gome_core.testing import ExecutorSuite, PluginSuite


class TestVenvExecutorPlugin(PluginSuite):
    @pytest.fixture
    def plugin(self):
        return gome_venv_executor


@pytest.fixture(scope="module")
def venv_dir(tmp_path_factory):
    """One environment for the whole module: making it is the slow part."""
    return tmp_path_factory.mktemp("venv") / "env"


def make(venv_dir, tmp_path, **sandbox):
    sandbox.setdefault("kill_grace_s", 0.5)
    sandbox = LocalExecutorConfig(workspace_root=str(tmp_path / "ws"), **sandbox)
    return VenvExecutor(VenvExecutorConfig(venv_dir=str(venv_dir), sandbox=sandbox))


class TestVenvExecutorConforms(ExecutorSuite):
    @pytest.fixture
    def executor(self, venv_dir, tmp_path):
        with make(venv_dir, tmp_path) as ex:
            yield ex


def test_candidates_run_with_the_environments_python(venv_dir, tmp_path):
    code = "import sys, attrs\nprint(sys.prefix)"  # attrs: inherited from gome's environment
    with make(venv_dir, tmp_path) as ex:
        result = ex.run(ExecutionRequest(Candidate.from_code("c", code)))
    assert result.ok, result
    assert result.stdout_tail.strip() == str(venv_dir)


def test_an_environment_that_cannot_be_made_is_an_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with make(blocker / "env", tmp_path) as ex:
        result = ex.run(ExecutionRequest(Candidate.from_code("c", "print(1)")))
    assert result.outcome == "error" and "cannot create the virtual environment" in result.error
