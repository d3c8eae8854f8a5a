"""A complete gome executor plugin in one module: the ``venv`` executor.

Candidates run with the python of a virtual environment this executor creates (once, on first use)
instead of the interpreter that runs gome, so what they ``pip install`` lands there, and the
packages they need can be installed into it up front. Everything a sandbox must do — workspace,
time-out of the whole process tree, memory cap, scrubbed environment, read-only input, no network —
is delegated to gome's local executor, so this plugin passes the executor conformance suite.

    [executor]
    name = "venv"
    venv_dir = "~/.cache/my-agent-venv"
    requirements = ["lightgbm"]
    pip_args = ["--no-index", "--find-links", "/srv/wheels"]

    [executor.sandbox]        # the local executor's settings
    timeout_s = 900
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import site
import subprocess
import sys
import threading
import venv
from pathlib import Path

import attrs
from attrs import field, frozen

import gome_core
from gome_core import ExecutionRequest, ExecutionResult, Executor
from gome_core.executors.local import LocalExecutor, LocalExecutorConfig
from gome_core.logs import get_logger

log = get_logger(__name__)

_DONE = "gome-venv-executor.json"


@frozen
class VenvExecutorConfig:
    """Settings of the venv executor (every field has a default)."""

    #: Where the virtual environment lives; default: a cache folder named after these settings.
    venv_dir: str | None = None
    #: Let candidates import the packages of the python that runs gome (their own installs win).
    inherit_packages: bool = True
    #: Requirements installed with pip when the environment is created.
    requirements: tuple[str, ...] = field(default=(), converter=tuple)
    #: Extra pip arguments, e.g. ``["--no-index", "--find-links", "/srv/wheels"]`` offline.
    pip_args: tuple[str, ...] = field(default=(), converter=tuple)
    #: The sandbox: gome's local executor settings (``python`` is set to the environment's).
    sandbox: LocalExecutorConfig = LocalExecutorConfig()


class VenvExecutor(Executor):
    """Runs candidates with a dedicated virtual environment's python, in gome's local sandbox."""

    def __init__(self, config: VenvExecutorConfig | None = None) -> None:
        self.config = config or VenvExecutorConfig()
        self._lock = threading.Lock()
        self._local: LocalExecutor | None = None
        self._closed = False

    # -- the environment, made once and reused (also by later runs of gome)

    @property
    def venv_dir(self) -> Path:
        if self.config.venv_dir:
            return Path(self.config.venv_dir).expanduser()
        key = json.dumps([sys.version, self.config.inherit_packages, self.config.requirements])
        digest = hashlib.sha256(key.encode()).hexdigest()[:12]
        cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
        return cache / "gome-venv-executor" / digest

    @property
    def python(self) -> Path:
        return self.venv_dir / "bin" / "python"

    def _create(self) -> None:
        target = self.venv_dir
        if (target / _DONE).exists() and self.python.exists():
            return
        log.info("creating the candidates' virtual environment", path=str(target))
        shutil.rmtree(target, ignore_errors=True)  # a half-made one from an interrupted run
        venv.EnvBuilder(symlinks=True, with_pip=bool(self.config.requirements)).create(target)
        if self.config.inherit_packages:
            purelib = subprocess.run(
                [str(self.python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                check=True,
                capture_output=True,
                text=True,
            ).stdout.strip()
            parents = [*site.getsitepackages(), site.getusersitepackages()]
            Path(purelib, "_gome_parent_packages.pth").write_text("\n".join(parents) + "\n")
        if self.config.requirements:
            subprocess.run(
                [
                    str(self.python),
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    *self.config.pip_args,
                    *self.config.requirements,
                ],
                check=True,
                capture_output=True,
                text=True,
            )
        (target / _DONE).write_text(json.dumps(attrs.asdict(self.config), default=str))

    def _executor(self) -> LocalExecutor:
        with self._lock:
            if self._local is None:
                self._create()
                sandbox = attrs.evolve(self.config.sandbox, python=str(self.python))
                self._local = LocalExecutor(sandbox)
            return self._local

    # -- the Executor interface

    def run(self, request: ExecutionRequest) -> ExecutionResult:
        """Run ``request`` with the environment's python; a failure to make it is ``error``."""
        if self._closed:
            return ExecutionResult(exit_code=None, cancelled=True, error="executor closed")
        try:
            local = self._executor()
        except (OSError, subprocess.CalledProcessError) as exc:
            detail = getattr(exc, "stderr", None) or str(exc)
            return ExecutionResult(
                exit_code=None,
                error=f"cannot create the virtual environment {self.venv_dir}: {detail.strip()}",
            )
        return local.run(request)

    def cancel(self) -> None:
        """End every run in flight (the local executor ends their process trees)."""
        if self._local is not None:
            self._local.cancel()

    def hardware(self) -> dict[str, object]:
        return {**LocalExecutor(self.config.sandbox).hardware(), "python": str(self.python)}

    def close(self) -> None:
        self._closed = True
        if self._local is not None:
            self._local.close()


@gome_core.hookimpl
def register_executors(register):
    register(
        VenvExecutor,
        name="venv",
        config=VenvExecutorConfig,
        description="Runs candidates with a dedicated virtual environment's python, sandboxed.",
    )
