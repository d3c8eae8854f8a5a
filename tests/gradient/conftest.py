from tests.engine.conftest import toy_registry  # noqa: F401
