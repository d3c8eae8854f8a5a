"""The replay backend: records any backend to a cassette, replays it offline, scrubs keys."""

from __future__ import annotations

import json

import gome_openai.plugin
import pytest
from gome_openai import OpenAIBackend, OpenAIConfig

from gome_core import LLMRequest, Message, UsageError
from gome_core.llm import ReplayMissError
from gome_core.llm import replay as replay_module
from gome_core.llm.replay import ReplayBackend, ReplayConfig, fingerprint
from gome_core.testing import PluginSuite
from gome_core.testing.llm_server import LLMServer
from gome_core.testing.llm_suite import EXPECTED, VALID, LLMBackendSuite, SuiteVerdict
from tests.llm.conftest import FAKE_KEY


def _with_replay(registry_factory, *plugins, **named):
    """A registry with the replay backend, whether or not the core already registers it."""
    registry = registry_factory(*plugins, **named)
    if "replay" in registry.names("llm"):
        return registry
    return registry_factory(*plugins, replay=replay_module, **named)


class TestReplayPlugin(PluginSuite):
    @pytest.fixture
    def plugin(self):
        """The module that registers ``replay``: the core's own plugin once it does, else the
        replay module, which is a plugin by itself."""
        from gome_core.plugins import load_plugins

        core = load_plugins(entry_points=False, env={})
        if "replay" in core.names("llm"):
            return core.manager.get_plugin(core.get("llm", "replay").plugin.name)
        return replay_module

    @pytest.fixture
    def registrations(self, registry):
        return [registry.get("llm", "replay")]

    def test_components_build_from_default_config(self, registrations, tmp_path, monkeypatch):
        monkeypatch.chdir(tmp_path)
        (tmp_path / "llm-cassette.jsonl").write_text("")
        super().test_components_build_from_default_config(registrations)


class TestRecordingConforms(LLMBackendSuite):
    """Recording wraps a real backend and changes nothing it does."""

    @pytest.fixture
    def backend(self, llm_server, llm_settings, tmp_path):
        inner = OpenAIBackend(OpenAIConfig(base_url=llm_server.openai_url, **llm_settings))
        backend = ReplayBackend(
            ReplayConfig(cassette=str(tmp_path / "cassette.jsonl"), mode="record"), inner=inner
        )
        yield backend
        backend.close()
        text = (tmp_path / "cassette.jsonl").read_text()
        assert FAKE_KEY not in text


def _openai(server: LLMServer, key: str = FAKE_KEY) -> OpenAIBackend:
    return OpenAIBackend(
        OpenAIConfig(base_url=server.openai_url, backoff_initial_s=0.01),
        environ={"OPENAI_API_KEY": key},
    )


REQUESTS = [
    LLMRequest((Message.user("Diagnose the model."),), system="Task.", purpose="reasoning"),
    LLMRequest((Message.user("Judge it."),), schema=SuiteVerdict, purpose="judge"),
]


def test_a_recorded_run_replays_offline(tmp_path):
    cassette = tmp_path / "run.jsonl"
    with LLMServer() as server:
        server.reply("Underfitting.", model="gpt-5-2025-08-07", input_tokens=50, output_tokens=5)
        server.reply(data=VALID)
        recorder = ReplayBackend(ReplayConfig(str(cassette), "record"), inner=_openai(server))
        recorded = [recorder.complete(r) for r in REQUESTS]
        recorder.close()
    # The server is gone: replay needs no network.
    player = ReplayBackend(ReplayConfig(str(cassette), "replay"))
    replayed = [player.complete(r) for r in REQUESTS]
    assert replayed[0].text == "Underfitting." and replayed[0].model == "gpt-5-2025-08-07"
    assert replayed[0].usage == recorded[0].usage
    assert replayed[1].parsed == EXPECTED
    assert player.model == "gpt-5-2025-08-07"


def test_the_fingerprint_ignores_the_model_and_sampling():
    a = LLMRequest((Message.user("q"),), system="s", purpose="p", temperature=0.1)
    b = LLMRequest((Message.user("q"),), system="s", purpose="p", max_output_tokens=9)
    assert fingerprint(a) == fingerprint(b)
    assert fingerprint(a) != fingerprint(LLMRequest((Message.user("q"),), system="s"))
    assert fingerprint(a) != fingerprint(
        LLMRequest((Message.user("q"),), system="s", purpose="p", schema=SuiteVerdict)
    )


def test_identical_requests_replay_in_order(tmp_path, server):
    cassette = tmp_path / "c.jsonl"
    server.reply("first").reply("second")
    recorder = ReplayBackend(ReplayConfig(str(cassette), "record"), inner=_openai(server))
    request = LLMRequest((Message.user("Sample an idea."),))
    assert [recorder.complete(request).text for _ in range(2)] == ["first", "second"]
    recorder.close()
    player = ReplayBackend(ReplayConfig(str(cassette)))
    assert [player.complete(request).text for _ in range(3)] == ["first", "second", "second"]


def test_a_miss_names_the_fingerprint_and_the_cassette(tmp_path, server):
    cassette = tmp_path / "c.jsonl"
    recorder = ReplayBackend(ReplayConfig(str(cassette), "record"), inner=_openai(server))
    recorder.complete(REQUESTS[0])
    recorder.close()
    player = ReplayBackend(ReplayConfig(str(cassette)))
    changed = LLMRequest((Message.user("A changed prompt."),), purpose="reasoning")
    with pytest.raises(ReplayMissError) as caught:
        player.complete(changed)
    assert fingerprint(changed) in str(caught.value) and str(cassette) in str(caught.value)
    assert "reasoning" in str(caught.value)


def test_keys_are_scrubbed_from_cassettes(tmp_path, server, monkeypatch):
    monkeypatch.setenv("SOME_SERVICE_TOKEN", "tok-9876543210fedcba")
    cassette = tmp_path / "c.jsonl"
    recorder = ReplayBackend(ReplayConfig(str(cassette), "record"), inner=_openai(server))
    leaky = LLMRequest(
        (Message.user(f"my key is {FAKE_KEY} and tok-9876543210fedcba"),), system=FAKE_KEY
    )
    assert FAKE_KEY in recorder.complete(leaky).text  # the echo server repeats it...
    recorder.close()
    text = cassette.read_text()
    assert FAKE_KEY not in text and "tok-9876543210fedcba" not in text  # ...the cassette not
    entry = json.loads(text)
    assert "[REDACTED]" in entry["request"]["system"] and "[REDACTED]" in entry["response"]["text"]


def test_replay_without_a_cassette_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        ReplayBackend(ReplayConfig(str(tmp_path / "missing.jsonl")))


def test_recording_without_an_inner_backend_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="llm.inner"):
        ReplayBackend(ReplayConfig(str(tmp_path / "c.jsonl"), "record"))


def test_a_torn_last_line_is_tolerated(tmp_path, server):
    cassette = tmp_path / "c.jsonl"
    recorder = ReplayBackend(ReplayConfig(str(cassette), "record"), inner=_openai(server))
    recorded = recorder.complete(REQUESTS[0])
    recorder.close()
    with cassette.open("a") as f:
        f.write('{"fingerprint": "torn')
    replayed = ReplayBackend(ReplayConfig(str(cassette))).complete(REQUESTS[0])
    assert replayed.text == recorded.text and replayed.model == recorded.model


def test_configured_through_the_registry(gome_plugin, tmp_path, server, monkeypatch):
    from gome_core.config import resolve

    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    # The process-wide registry: a nested spec (llm.inner) is built through it, as in a run.
    registry = _with_replay(gome_plugin, openai=gome_openai.plugin)
    cassette = tmp_path / "c.jsonl"
    settings = {
        "llm": {
            "name": "replay",
            "mode": "record",
            "cassette": str(cassette),
            "inner": {"name": "openai", "model": "gpt-5", "base_url": server.openai_url},
        }
    }
    resolved = resolve(settings=settings, registry=registry)
    backend = resolved.config.llm.create(registry)
    assert isinstance(backend.inner, OpenAIBackend) and backend.inner.model == "gpt-5"
    server.reply("recorded through the registry")
    assert backend.complete(REQUESTS[0]).text == "recorded through the registry"
    backend.close()
    assert resolved.to_dict()["llm"]["inner"]["name"] == "openai"
    assert FAKE_KEY not in json.dumps(resolved.describe())
    with pytest.raises(UsageError, match="mode must be one of .record., .replay., got .rewind."):
        resolve(settings={"llm": {"name": "replay", "mode": "rewind"}}, registry=registry)
