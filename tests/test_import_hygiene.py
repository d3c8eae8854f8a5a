"""`import gome_core` and `gome --help` must stay light: no ML library, no vendor SDK."""

import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "pandas", "sklearn", "numpy", "openai", "anthropic", "ray", "scipy", "mlflow")


def _modules_after(code: str) -> set[str]:
    probe = code + "\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return {name.split(".")[0] for name in json.loads(out.stdout.strip().splitlines()[-1])}


@pytest.mark.parametrize(
    "code",
    [
        "import gome_core",
        "import gome_core; gome_core.Candidate; gome_core.Executor",
        "from gome_core.cli import cli\n"
        "try:\n    cli.main(['--help'], prog_name='gome')\nexcept SystemExit:\n    pass",
        "from gome_core.cli import cli\n"
        "try:\n    cli.main(['plugins', '--json'], prog_name='gome')\nexcept SystemExit:\n    pass",
        "from gome_core.cli import cli\n"
        "try:\n    cli.main(['config', 'show'], prog_name='gome')\nexcept SystemExit:\n    pass",
    ],
    ids=["import", "types", "help", "plugins", "config-show"],
)
def test_no_heavy_imports(code):
    loaded = _modules_after(code)
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_help_does_not_load_plugins_or_structlog():
    loaded = _modules_after(
        "from gome_core.cli import cli\n"
        "try:\n    cli.main(['--help'], prog_name='gome')\nexcept SystemExit:\n    pass"
    )
    assert "pluggy" not in loaded and "cattrs" not in loaded and "rich" not in loaded


def test_the_library_never_configures_logging():
    code = (
        "import structlog, gome_core\n"
        "from gome_core.plugins import load_plugins\n"
        "from gome_core.config import resolve\n"
        "resolve(registry=load_plugins())\n"
        "print(structlog.is_configured())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", "the library printed to stdout on its own"


def test_every_public_name_resolves():
    import gome_core

    for name in gome_core.__all__:
        assert getattr(gome_core, name) is not None, name
    assert set(gome_core.__all__) <= set(dir(gome_core))
