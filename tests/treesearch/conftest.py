from tests.engine.conftest import toy_competition, toy_registry  # noqa: F401
