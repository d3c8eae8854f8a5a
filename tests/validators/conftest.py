from tests.engine.conftest import toy_competition  # noqa: F401
