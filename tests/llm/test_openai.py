"""The OpenAI backend: the conformance suite over real HTTP, plus what is OpenAI's own."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import attrs
import gome_openai.plugin
import pytest
from gome_openai import OpenAIBackend, OpenAIConfig

from gome_core import UsageError
from gome_core.llm import LLMSchemaError, LLMUnavailableError, MissingAPIKeyError
from gome_core.testing import PluginSuite
from gome_core.testing.llm_server import Fault, LLMServer, Reply
from gome_core.testing.llm_suite import (
    EXPECTED,
    VALID,
    LLMBackendSuite,
    SuiteVerdict,
)
from tests.llm.conftest import FAKE_KEY, FAST, PLUGINS, ask


class TestOpenAIPlugin(PluginSuite):
    @pytest.fixture
    def plugin(self):
        return gome_openai.plugin


class TestOpenAIBackendConforms(LLMBackendSuite):
    @pytest.fixture
    def backend(self, llm_server, llm_settings):
        backend = OpenAIBackend(OpenAIConfig(base_url=llm_server.openai_url, **llm_settings))
        yield backend
        backend.close()


def _backend(server: LLMServer, **settings) -> OpenAIBackend:
    settings = {**FAST, **settings}
    return OpenAIBackend(
        OpenAIConfig(base_url=server.openai_url, **settings), environ={"OPENAI_API_KEY": FAKE_KEY}
    )


def test_structured_output_is_a_strict_json_schema_on_the_wire(server):
    server.reply(data=VALID)
    response = _backend(server, model="gpt-5").complete(
        ask(schema=SuiteVerdict, system="You judge.")
    )
    assert response.parsed == EXPECTED
    [request] = server.requests
    fmt = request.body["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["name"] == "SuiteVerdict" and fmt["json_schema"]["strict"] is True
    score = fmt["json_schema"]["schema"]["properties"]["findings"]["items"]["properties"]["score"]
    assert (score["minimum"], score["maximum"]) == (0, 10)
    assert request.body["messages"][0] == {"role": "system", "content": "You judge."}


def test_reasoning_effort_and_token_limit_are_sent(server):
    server.reply("ok")
    _backend(server, reasoning_effort="high", max_output_tokens=1234).complete(ask())
    body = server.requests[0].body
    assert body["reasoning_effort"] == "high"
    assert body["max_completion_tokens"] == 1234 and "max_tokens" not in body
    assert "temperature" not in body


def test_a_rejected_temperature_is_dropped_and_remembered_per_model(server):
    backend = _backend(server, model="o3", temperature=0.2)
    server.fail(
        400,
        "Unsupported value: 'temperature' does not support 0.2 with this model. "
        "Only the default (1) value is supported.",
        param="temperature",
        code="unsupported_value",
    )
    assert backend.complete(ask("one")).text == "echo: one"
    assert backend.complete(ask("two")).text == "echo: two"
    bodies = [r.body for r in server.requests]
    assert [b.get("temperature") for b in bodies] == [0.2, None, None]
    assert backend.rejected_params("o3") == {"temperature"}
    assert backend.stats.retries == 0, "dropping a parameter is not a retry"


@pytest.mark.parametrize(
    ("message", "param"),
    [
        ("Unsupported parameter: 'reasoning_effort' is not supported with this model.", None),
        ("Unrecognized request argument supplied: reasoning_effort", None),
        (
            "[{'type': 'extra_forbidden', 'loc': ('body', 'reasoning_effort'), "
            "'msg': 'Extra inputs are not permitted'}]",
            None,
        ),
    ],
    ids=["openai", "azure", "vllm"],
)
def test_rejected_parameters_are_recognised_in_each_servers_wording(server, message, param):
    server.fail(400, message, param=param)
    backend = _backend(server, reasoning_effort="low")
    assert backend.complete(ask()).text.startswith("echo")
    assert "reasoning_effort" not in server.requests[-1].body


def test_a_server_without_json_schema_gets_the_schema_in_the_prompt(server):
    backend = _backend(server)
    server.fail(400, "Unsupported parameter: 'response_format' is not supported")
    server.reply(text="```json\n" + __import__("json").dumps(VALID) + "\n```")
    assert backend.complete(ask(schema=SuiteVerdict)).parsed == EXPECTED
    retry = server.requests[-1]
    assert "response_format" not in retry.body
    assert '"confidence"' in retry.system


def test_prompt_mode_sends_no_response_format(server):
    server.reply(text=__import__("json").dumps(VALID))
    backend = _backend(server, structured="prompt", api_key_env="")
    assert backend.complete(ask(schema=SuiteVerdict)).parsed == EXPECTED
    request = server.requests[0]
    assert "response_format" not in request.body and "SuiteVerdict" in request.system
    assert FAKE_KEY not in request.headers.get("authorization", "")


def test_a_refusal_is_repaired_then_a_typed_error(server):
    server.handler = lambda request: Reply("I can't help with that.", finish="refusal")
    with pytest.raises(LLMSchemaError) as caught:
        _backend(server, repair_rounds=1).complete(ask(schema=SuiteVerdict))
    assert "refused" in caught.value.problems[0]
    assert caught.value.rounds == 2 and len(server.requests) == 2


def test_a_missing_key_names_the_variable_when_the_backend_is_built(no_keys):
    with pytest.raises(MissingAPIKeyError) as caught:
        OpenAIBackend(OpenAIConfig())
    assert isinstance(caught.value, UsageError)
    assert "OPENAI_API_KEY" in str(caught.value)
    with pytest.raises(UsageError, match="MY_OTHER_KEY"):
        OpenAIBackend(OpenAIConfig(api_key_env="MY_OTHER_KEY"))


def test_the_key_comes_from_the_named_variable(server, monkeypatch):
    monkeypatch.setenv("TEAM_OPENAI_KEY", "sk-team-key-0123456789")
    backend = OpenAIBackend(OpenAIConfig(base_url=server.openai_url, api_key_env="TEAM_OPENAI_KEY"))
    backend.complete(ask())
    assert server.requests[0].headers["authorization"] == "Bearer sk-team-key-0123456789"
    assert "sk-team" not in repr(backend) and "sk-team" not in repr(backend.api_key)


def test_a_500_then_repair_counts_every_exchange(server):
    server.script(Fault(500), Reply(data={**VALID, "verdict": "maybe"}), Reply(data=VALID))
    backend = _backend(server)
    response = backend.complete(ask(schema=SuiteVerdict))
    assert response.parsed == EXPECTED and response.usage.calls == 2
    assert (backend.stats.retries, backend.stats.repairs, backend.stats.exchanges) == (1, 1, 2)


def test_events_report_retries_without_prompt_text(server):
    seen = []
    backend = _backend(server)
    backend.on_event = lambda kind, **fields: seen.append((kind, fields))
    server.fail(429, retry_after=0.01)
    backend.complete(ask("a secret prompt"))
    [(kind, fields)] = seen
    assert kind == "retry" and fields["status"] == 429 and fields["failure"] == "rate_limit"
    assert "a secret prompt" not in repr(fields)


def test_config_round_trips_with_its_attrs_fields():
    config = OpenAIConfig(model="gpt-5.4", base_url="http://localhost:8000/v1")
    assert attrs.evolve(config, temperature=0.1).model == "gpt-5.4"
    with pytest.raises(ValueError):
        OpenAIConfig(reasoning_effort="extreme")


def test_loading_the_plugin_does_not_import_the_sdk():
    code = (
        f"import sys; sys.path.insert(0, {str(PLUGINS)!r})\n"
        "from gome_core.plugins import load_plugins\n"
        "import gome_openai.plugin as p\n"
        "load_plugins(extra=[('openai-test', p)], entry_points=False)\n"
        "print('openai' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_configured_from_toml_with_prices(gome_registry_factory, server, monkeypatch, tmp_path):
    from gome_core.config import resolve
    from gome_core.plugins import load_plugins

    monkeypatch.setenv("DEEPSEEK_API_KEY", "sk-deepseek-0123456789")
    installed = {p.module for p in load_plugins(env={}).plugins}
    extra = {} if "gome_openai.plugin" in installed else {"openai": gome_openai.plugin}
    registry = gome_registry_factory(entry_points=True, **extra)
    config = tmp_path / "run.toml"
    config.write_text(
        f"""
[llm]
name = "openai"
model = "deepseek-chat"
base_url = "{server.openai_url}"
api_key_env = "DEEPSEEK_API_KEY"

[[llm.prices]]
model = "deepseek-chat"
input = 0.27
cached_input = 0.07
output = 1.10
"""
    )
    resolved = resolve(files=[config], overrides=["llm.reasoning_effort=low"], registry=registry)
    backend = resolved.config.llm.create(registry)
    server.reply("ok", input_tokens=1_000_000, cached_tokens=0, output_tokens=1_000_000)
    assert backend.complete(ask()).usage.usd == pytest.approx(0.27 + 1.10)
    assert "sk-deepseek" not in resolved.to_toml() and "sk-deepseek" not in repr(resolved)
    bad = "llm.reasoning_effort=extreme"
    with pytest.raises(UsageError, match="reasoning_effort must be one of"):
        resolve(files=[config], overrides=[bad], registry=registry)


@pytest.mark.parametrize(
    ("waiting_for", "said", "kind"),
    [
        # A rate limit asking for a minute's wait: interrupted during the backoff.
        ("a retry", "interrupted while waiting to retry", "interrupted"),
        # An answer a minute away: interrupted while the request is in flight.
        ("the answer", "interrupted while waiting for the answer", "interrupted"),
    ],
)
def test_interrupt_ends_a_wait_at_once(server, waiting_for, said, kind):
    if waiting_for == "a retry":
        server.fail(429, "slow down", retry_after=60)
    else:
        server.slow(60, then=Reply(text="too late"))
    backend = _backend(server, max_total_wait_s=600, timeout_s=120)
    outcome: list[BaseException] = []

    def call() -> None:
        try:
            backend.complete(ask())
        except LLMUnavailableError as exc:
            outcome.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    while not server.requests and caller.is_alive():
        time.sleep(0.01)
    time.sleep(0.2)  # now waiting
    backend.interrupt()
    caller.join(timeout=30)  # a hang guard: the wait was a minute
    assert not caller.is_alive() and len(server.requests) == 1
    assert said in str(outcome[0]) and outcome[0].kind == kind
    # Later calls are not affected.
    server.reply("after the interruption")
    assert backend.complete(ask()).text == "after the interruption"
