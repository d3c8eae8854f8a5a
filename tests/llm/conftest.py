from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from gome_core import LLMRequest, Message
from gome_core.testing.llm_server import LLMServer

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = ROOT / "plugins"
EXAMPLE_LLM_PLUGIN = ROOT / "docs" / "examples" / "gome-http-llm"

# The first-party backends are packages under plugins/; an install that predates them (an older
# editable install) does not map them yet.
if importlib.util.find_spec("gome_openai") is None:
    sys.path.insert(0, str(PLUGINS))

#: Looks like a key, is not one.
FAKE_KEY = "sk-test-0123456789abcdef0123456789abcdef"


@pytest.fixture
def fake_keys(monkeypatch: pytest.MonkeyPatch) -> str:
    """Both providers' key variables set to a fake key (backends build from defaults)."""
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    monkeypatch.setenv("ANTHROPIC_API_KEY", FAKE_KEY)
    return FAKE_KEY


@pytest.fixture
def no_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(name, raising=False)


#: Quick retries and a short time-out: fault tests should not wait.
FAST = {"backoff_initial_s": 0.01, "timeout_s": 2.0}


@pytest.fixture
def server():
    """A local wire server of the test's own."""
    with LLMServer() as server:
        yield server


def ask(text: str = "Diagnose.", **kwargs: object) -> LLMRequest:
    """A one-message request."""
    return LLMRequest((Message.user(text),), **kwargs)  # type: ignore[arg-type]
