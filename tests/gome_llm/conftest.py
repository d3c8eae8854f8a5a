from __future__ import annotations

import pytest

from gome_core.engine.launch import competition_ref, open_competition
from gome_core.testing.llm_server import LLMServer
from tests.gome_llm.scripted_model import ScriptedModel

#: Looks like a key, is not one: the tests grep the run directory for it.
SECRET = "sk-test-secret-9f8e7d6c5b4a39281706f5e4d3c2b1a0"


@pytest.fixture(scope="session")
def penguins():
    """The bundled penguins-mass competition's public side (prepared on first use)."""
    _store, competition = open_competition("penguins-mass")
    return competition_ref(competition)


@pytest.fixture
def scripted_server(penguins):
    """The wire server answering as a scripted model for penguins-mass."""
    model = ScriptedModel(
        penguins.public_dir, penguins.metric.name, penguins.metric.lower_is_better
    )
    with LLMServer(handler=model) as server:
        server.model = model
        yield server
