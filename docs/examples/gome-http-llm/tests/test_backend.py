"""The plugin's own tests: gome's conformance suites, run against gome's local wire server."""

import gome_http_llm
import pytest

from gome_core.testing import PluginSuite
from gome_core.testing.llm_suite import LLMBackendSuite


class TestPlugin(PluginSuite):
    @pytest.fixture
    def plugin(self):
        return gome_http_llm


class TestBackend(LLMBackendSuite):
    @pytest.fixture
    def backend(self, llm_server, llm_settings):
        config = gome_http_llm.HTTPChatConfig(base_url=llm_server.openai_url, **llm_settings)
        return gome_http_llm.HTTPChatBackend(config)


def test_the_schema_is_sent_as_a_strict_response_format(monkeypatch):
    from gome_core.testing.llm_server import LLMServer
    from gome_core.testing.llm_suite import EXPECTED, VALID, SuiteVerdict
    from gome_core.types import LLMRequest, Message

    monkeypatch.setenv("HTTP_LLM_API_KEY", "sk-example-key-123456")
    with LLMServer() as server:
        server.reply(data=VALID)
        config = gome_http_llm.HTTPChatConfig(base_url=server.openai_url)
        backend = gome_http_llm.HTTPChatBackend(config)
        response = backend.complete(LLMRequest((Message.user("Judge."),), schema=SuiteVerdict))
        assert response.parsed == EXPECTED
        assert server.requests[0].body["response_format"]["json_schema"]["strict"] is True
