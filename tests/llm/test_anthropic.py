"""The Anthropic backend: the conformance suite over real HTTP, plus what is Anthropic's own."""

from __future__ import annotations

import json
import subprocess
import sys

import gome_anthropic.plugin
import pytest
from gome_anthropic import AnthropicBackend, AnthropicConfig

from gome_core import UsageError
from gome_core.llm import LLMSchemaError, PriceTable, TokenCounts
from gome_core.testing import PluginSuite
from gome_core.testing.llm_server import LLMServer, Reply
from gome_core.testing.llm_suite import EXPECTED, VALID, LLMBackendSuite, SuiteVerdict
from tests.llm.conftest import FAKE_KEY, FAST, PLUGINS, ask


class TestAnthropicPlugin(PluginSuite):
    @pytest.fixture
    def plugin(self):
        return gome_anthropic.plugin


class TestAnthropicBackendConforms(LLMBackendSuite):
    priced_model = "claude-sonnet-4-5"

    @pytest.fixture
    def backend(self, llm_server, llm_settings):
        backend = AnthropicBackend(AnthropicConfig(base_url=llm_server.url, **llm_settings))
        yield backend
        backend.close()


def _backend(server: LLMServer, **settings) -> AnthropicBackend:
    settings = {**FAST, **settings}
    return AnthropicBackend(
        AnthropicConfig(base_url=server.url, **settings), environ={"ANTHROPIC_API_KEY": FAKE_KEY}
    )


def test_structured_output_is_a_forced_tool_call(server):
    server.reply(data=VALID)
    response = _backend(server).complete(ask(schema=SuiteVerdict, system="The task: ..."))
    assert response.parsed == EXPECTED
    body = server.requests[0].body
    [tool] = body["tools"]
    assert tool["name"] == "SuiteVerdict" and tool["strict"] is True
    assert body["tool_choice"] == {"type": "tool", "name": "SuiteVerdict"}
    score = tool["input_schema"]["properties"]["findings"]["items"]["properties"]["score"]
    assert "minimum" not in score and "maximum: 10" in score["description"]
    assert "thinking" not in body


# A 5-minute cache write costs 1.25 times the input price, a 1-hour one twice.
@pytest.mark.parametrize(("ttl", "write_rate"), [("5m", 3.75), ("1h", 6.00)])
def test_the_system_prompt_is_cached_and_cache_tokens_are_priced(server, ttl, write_rate):
    server.reply(
        "ok",
        model="claude-sonnet-4-6",
        input_tokens=10_000,
        cached_tokens=8_000,
        cache_write_tokens=1_500,
        output_tokens=100,
    )
    response = _backend(server, model="claude-sonnet-4-6", cache_ttl=ttl).complete(
        ask(system="A long, stable task description.")
    )
    [block] = server.requests[0].body["system"]
    assert block["cache_control"] == {"type": "ephemeral", "ttl": ttl}
    usage = response.usage
    assert usage.input_tokens == 10_000 and usage.cached_tokens == 8_000
    expected = (500 * 3.00 + 8_000 * 0.30 + 1_500 * write_rate + 100 * 15.00) / 1e6
    assert usage.usd == pytest.approx(expected)
    long = 1_500 if ttl == "1h" else 0
    tokens = TokenCounts(10_000, 100, 8_000, 1_500, cache_write_long=long)
    assert PriceTable().cost("claude-sonnet-4-6", tokens) == pytest.approx(expected)


def test_caching_can_be_switched_off(server):
    _backend(server, prompt_caching=False).complete(ask(system="Task."))
    assert server.requests[0].body["system"] == [{"type": "text", "text": "Task."}]


def test_thinking_uses_auto_tool_choice_and_no_temperature(server):
    server.reply(data=VALID, reasoning_tokens=300)
    backend = _backend(
        server, thinking="enabled", thinking_budget=2048, temperature=0.5, max_output_tokens=1000
    )
    response = backend.complete(ask(schema=SuiteVerdict, system="Task."))
    assert response.parsed == EXPECTED and response.usage.reasoning_tokens == 300
    body = server.requests[0].body
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert body["tool_choice"] == {"type": "auto"}
    assert body["max_tokens"] == 1000 + 2048
    assert "temperature" not in body
    assert "calling the tool `SuiteVerdict`" in body["system"][-1]["text"]


def test_with_thinking_a_json_text_answer_is_accepted(server):
    server.reply(text="Here is my verdict:\n" + json.dumps(VALID))
    backend = _backend(server, thinking="adaptive")
    assert backend.complete(ask(schema=SuiteVerdict)).parsed == EXPECTED
    assert server.requests[0].body["thinking"] == {"type": "adaptive"}


def test_with_thinking_a_missing_tool_call_is_repaired(server):
    server.reply(text="I think it should be rejected.").reply(data=VALID)
    backend = _backend(server, thinking="enabled")
    assert backend.complete(ask(schema=SuiteVerdict)).parsed == EXPECTED
    follow_up = server.requests[1].messages[-1][1]
    assert "Call the tool `SuiteVerdict` again" in follow_up


def test_effort_goes_to_output_config_and_a_rejection_drops_it(server):
    server.fail(400, "output_config.effort: Extra inputs are not permitted")
    backend = _backend(server, effort="high", model="claude-haiku-4-5")
    assert backend.complete(ask()).text.startswith("echo")
    first, second = server.requests
    assert first.body["output_config"] == {"effort": "high"}
    assert "output_config" not in second.body
    assert backend.rejected_params("claude-haiku-4-5") == {"effort"}


def test_temperature_travels_in_the_body(server):
    _backend(server, temperature=0.3).complete(ask())
    assert server.requests[0].body["temperature"] == 0.3


def test_an_overloaded_answer_is_retried(server):
    server.fail(529, "Overloaded").reply("fine")
    assert _backend(server).complete(ask()).text == "fine"


def test_the_schema_error_names_the_problems(server):
    server.handler = lambda request: Reply(data={"verdict": "accept"})
    with pytest.raises(LLMSchemaError) as caught:
        _backend(server, repair_rounds=0).complete(ask(schema=SuiteVerdict))
    assert "$.findings: required, missing" in str(caught.value)


def test_a_missing_key_names_the_variable_when_the_backend_is_built(no_keys):
    with pytest.raises(UsageError, match="ANTHROPIC_API_KEY"):
        AnthropicBackend(AnthropicConfig())


def test_loading_the_plugin_does_not_import_the_sdk():
    code = (
        f"import sys; sys.path.insert(0, {str(PLUGINS)!r})\n"
        "from gome_core.plugins import load_plugins\n"
        "import gome_anthropic.plugin as p\n"
        "load_plugins(extra=[('anthropic-test', p)], entry_points=False)\n"
        "print('anthropic' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
