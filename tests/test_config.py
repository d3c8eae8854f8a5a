import json
import re
import tomllib

import attrs
import pytest
from attrs import frozen

from gome_core import hookimpl
from gome_core.config import (
    ExecutorSpec,
    ImplementerSpec,
    OptimizerSpec,
    apply_override,
    merge,
    parse_override,
    resolve,
)
from gome_core.errors import ConfigError, UsageError
from gome_core.executors.local import LocalExecutor, LocalExecutorConfig


class ToyPlugin:
    """Registers a toy optimizer whose config nests another component, and a preset."""

    @hookimpl
    def register_optimizers(self, register):
        from gome_core import Optimizer

        class Toy(Optimizer):
            """A toy optimizer."""

            def __init__(self, config):
                self.config = config

            start = ask = develop = tell = best = lambda self, *a: None

        register(Toy, name="toy", config=NestedConfig)

    @hookimpl
    def register_implementers(self, register):
        register(lambda config: None, name="writer", config=WriterConfig, description="writes")
        register(lambda: None, name="rewriter", description="rewrites")

    @hookimpl
    def register_presets(self, register):
        register(
            {"optimizer": {"name": "toy", "traces": 5}, "budget": {"steps": 20}},
            name="toy-preset",
            description="Five traces.",
            source="tests",
        )


@frozen
class WriterConfig:
    folds: int = 5


@frozen
class NestedConfig:
    traces: int = 3
    temperature: float = 1.0
    implementer: ImplementerSpec = ImplementerSpec("writer", WriterConfig())  # type: ignore[valid-type]


@pytest.fixture
def registry(gome_registry_factory):
    return gome_registry_factory(toy=ToyPlugin())


def test_defaults_resolve_to_the_local_executor(registry):
    resolved = resolve(registry=registry)
    assert resolved.config.executor == ExecutorSpec("local", LocalExecutorConfig())
    assert isinstance(resolved.config.executor.create(registry), LocalExecutor)


def test_layers_apply_in_order(registry, tmp_path):
    first = tmp_path / "a.toml"
    first.write_text("seed = 1\n[executor]\ntimeout_s = 100\n[budget]\nsteps = 5\n")
    second = tmp_path / "b.toml"
    second.write_text("seed = 2\n")
    resolved = resolve(
        preset="toy-preset",
        files=[first, second],
        overrides=["budget.hours=1.5", "optimizer.temperature=0.5"],
        registry=registry,
    )
    config = resolved.config
    assert config.seed == 2
    assert config.preset == "toy-preset"
    assert config.executor.config.timeout_s == 100.0
    assert (config.budget.steps, config.budget.hours) == (5, 1.5)
    assert config.optimizer == OptimizerSpec("toy", NestedConfig(traces=5, temperature=0.5))
    assert resolved.sources[0] == "defaults" and resolved.sources[-1].startswith("--set")


def test_a_preset_key_in_a_layer_applies_that_preset(registry, tmp_path):
    config_file = tmp_path / "run.toml"
    config_file.write_text('preset = "toy-preset"\n[budget]\nsteps = 7\n')
    config = resolve(files=[config_file], registry=registry).config
    assert config.preset == "toy-preset"
    assert config.optimizer == OptimizerSpec("toy", NestedConfig(traces=5))  # the preset's
    assert config.budget.steps == 7  # the file's, above the preset
    by_set = resolve(overrides=["preset=toy-preset"], fallback_preset="other", registry=registry)
    assert by_set.config.optimizer.config.traces == 5
    assert by_set.sources[:2] == ("defaults", "preset toy-preset")
    # Only when no layer names one does the fallback apply.
    assert resolve(fallback_preset="toy-preset", registry=registry).config.preset == "toy-preset"
    assert resolve(registry=registry).config.preset is None


def test_two_presets_named_are_an_error(registry, tmp_path):
    with pytest.raises(ConfigError) as info:
        resolve(preset="toy-preset", overrides=["preset=other"], registry=registry)
    ((path, message),) = info.value.problems
    assert path == "$.preset" and "'other' differs from the preset given ('toy-preset')" in message
    # The same preset named again is no conflict: a saved run's config names its own preset.
    assert resolve(preset="toy-preset", overrides=["preset=toy-preset"], registry=registry)


def test_nested_components_are_tagged_and_checked(registry):
    config = resolve(
        overrides=["optimizer=toy", "optimizer.implementer=rewriter"], registry=registry
    ).config
    assert config.optimizer.config.implementer == ImplementerSpec("rewriter")
    with pytest.raises(ConfigError) as info:
        resolve(overrides=["optimizer=toy", "optimizer.implementer=writr"], registry=registry)
    ((path, message),) = info.value.problems
    assert path == "$.optimizer.implementer"
    assert "no implementer named 'writr'" in message and "Did you mean 'writer'" in message


def test_a_table_of_fields_sets_the_default_component(registry):
    # The toy optimizer's implementer is "writer" unless named: its fields can be set directly.
    config = resolve(
        overrides=["optimizer=toy", "optimizer.implementer.folds=2"], registry=registry
    ).config
    assert config.optimizer.config.implementer == ImplementerSpec("writer", WriterConfig(2))
    with pytest.raises(ConfigError) as info:
        resolve(overrides=["optimizer=toy", "optimizer.implementer.fods=2"], registry=registry)
    ((path, message),) = info.value.problems
    assert path == "$.optimizer.implementer.fods" and "did you mean 'folds'" in message
    # Another component named: the default's fields are no longer there to set.
    with pytest.raises(ConfigError) as info:
        resolve(
            overrides=[
                "optimizer=toy",
                "optimizer.implementer=rewriter",
                "optimizer.implementer.folds=2",
            ],
            registry=registry,
        )
    assert [path for path, _ in info.value.problems] == ["$.optimizer.implementer.folds"]


@pytest.mark.parametrize(
    ("override", "path", "message"),
    [
        ("executor.nonexistent=1", "$.executor.nonexistent", "unknown key"),
        ("executor.timeout_s=ten", "$.executor.timeout_s", 'expected a number, got "ten"'),
        ("executor.timout_s=3", "$.executor.timout_s", "did you mean 'timeout_s'"),
        ("seed=1.5", "$.seed", "expected an integer, got 1.5"),
        ("seed=true", "$.seed", "expected an integer, got true"),
        ("executor.keep_workspaces=1", "$.executor.keep_workspaces", "expected true or false"),
        ("budget.hours=[1]", "$.budget.hours", "expected a number, got a list"),
        ("executor=5", "$.executor", "expected a executor name or a table"),
        ("executor=docker", "$.executor", "no executor named 'docker'"),
        ("typo=1", "$.typo", "unknown key"),
        ("validators=[{greeting=1}]", "$.validators[0]", "missing 'name'"),
        # A lone string is not a list of one (it would become its characters).
        ("executor.hide_paths=/data", "$.executor.hide_paths", 'expected a list, got "/data"'),
        ("validators=full-run", "$.validators", 'expected a list, got "full-run"'),
        ("engine.final_seeds=7", "$.engine.final_seeds", "expected a list, got 7"),
        # Ranges: an attrs validator's complaint points at its field.
        ("budget.steps=0", "$.budget.steps", "must be > 0: 0"),
        ("budget.hours=-1", "$.budget.hours", "must be > 0: -1.0"),
        ("engine.workers=0", "$.engine.workers", "must be >= 1: 0"),
        ("executor.threads=0", "$.executor.threads", "must be >= 1: 0"),
        ("executor.timeout_s=0", "$.executor.timeout_s", "must be > 0: 0.0"),
    ],
)
def test_bad_values_name_their_path(registry, override, path, message):
    with pytest.raises(ConfigError) as info:
        resolve(overrides=[override], registry=registry)
    problems = dict(info.value.problems)
    assert path in problems, info.value.problems
    assert message in problems[path]
    assert path in str(info.value)


def test_all_problems_are_reported_at_once(registry):
    with pytest.raises(ConfigError) as info:
        resolve(overrides=["seed=x", "executor.timeout_s=y", "budget.steps=z"], registry=registry)
    assert {p for p, _ in info.value.problems} == {
        "$.seed",
        "$.executor.timeout_s",
        "$.budget.steps",
    }


def test_bad_toml_names_the_file(registry, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("seed = = 3\n")
    with pytest.raises(UsageError, match=r"bad\.toml is not valid TOML.*line 1"):
        resolve(files=[bad], registry=registry)
    with pytest.raises(UsageError, match="does not exist"):
        resolve(files=[tmp_path / "missing.toml"], registry=registry)


def test_unknown_preset_suggests(registry):
    with pytest.raises(UsageError, match="Did you mean 'toy-preset'"):
        resolve(preset="toy-prest", registry=registry)


def test_resolved_config_round_trips_through_toml(registry, tmp_path):
    resolved = resolve(preset="toy-preset", overrides=["executor.timeout_s=12"], registry=registry)
    text = resolved.to_toml()
    assert "# optimizer = 'toy'" in text and "(plugin toy)" in text
    again_file = tmp_path / "again.toml"
    again_file.write_text(text)
    again = resolve(files=[again_file], registry=registry)
    assert again.config == resolved.config
    assert tomllib.loads(text)["executor"]["name"] == "local"


@pytest.mark.parametrize("llm", [None, "openai"], ids=["offline", "with-llm"])
def test_every_builtin_preset_round_trips_through_a_saved_config(tmp_path, llm):
    # What `gome resume` relies on: a saved config names its preset, which is applied beneath
    # it again; that changes nothing, since the saved config sets every key of the preset.
    from gome_core.plugins import get_registry

    registry = get_registry()
    overrides = ["budget.steps=3", *([f"llm={llm}"] if llm else [])]
    for preset in registry.presets:
        text = resolve(preset=preset, overrides=overrides, registry=registry).to_toml()
        saved, bare = tmp_path / f"{preset}.toml", tmp_path / f"{preset}-bare.toml"
        saved.write_text(text)
        bare.write_text(re.sub(r"(?m)^preset = .*\n", "", text))
        resumed = resolve(files=[saved], registry=registry)
        assert resumed.sources[1] == f"preset {preset}"
        without = resolve(files=[bare], registry=registry).config
        assert resumed.config == attrs.evolve(without, preset=preset), preset


def test_describe_is_json_with_plugin_versions(registry):
    described = json.loads(json.dumps(resolve(registry=registry).describe()))
    assert described["components"] == [
        {"path": "$.executor", "name": "local", "provider": described["components"][0]["provider"]}
    ]
    assert "gome" in described["components"][0]["provider"]
    assert {"name": "core", "distribution": "gome", "version": described["gome_version"]} in (
        described["plugins"]
    )


def test_merge_switching_a_component_drops_its_old_settings():
    base = {"executor": {"name": "local", "timeout_s": 5}}
    assert merge(base, {"executor": "ray"}) == {"executor": "ray"}
    assert merge(base, {"executor": "local"}) == base
    assert merge(base, {"executor": {"name": "ray", "address": "auto"}}) == {
        "executor": {"name": "ray", "address": "auto"}
    }
    assert merge({"executor": "local"}, {"executor": {"timeout_s": 1}}) == {
        "executor": {"name": "local", "timeout_s": 1}
    }


@pytest.mark.parametrize(
    ("text", "keys", "value"),
    [
        ("a.b=10", ["a", "b"], 10),
        ("a=1.5", ["a"], 1.5),
        ("a=true", ["a"], True),
        ("a=local", ["a"], "local"),
        ('a="x y"', ["a"], "x y"),
        ("a=[1, 2]", ["a"], [1, 2]),
        ("a=openai:gpt-5", ["a"], "openai:gpt-5"),
        ("a=", ["a"], ""),
    ],
)
def test_parse_override(text, keys, value):
    assert parse_override(text) == (keys, value)


@pytest.mark.parametrize("text", ["novalue", "=3", "a..b=1"])
def test_parse_override_rejects_malformed(text):
    with pytest.raises(UsageError, match="expected KEY=VALUE"):
        parse_override(text)


def test_apply_override_builds_nested_tables():
    assert apply_override({}, "a.b.c=1") == {"a": {"b": {"c": 1}}}


def test_versions_name_gome_and_the_plugin_of_each_component(registry):
    versions = resolve(preset="toy-preset", registry=registry).versions()
    from gome_core import __version__

    # The local executor is gome's own; the toy optimizer's plugin is a module of the tests, in
    # no distribution, so it is named by its module and its version is unknown.
    assert versions.pop("gome") == __version__
    [(module, version)] = versions.items()
    assert module.startswith("tests.") and version == "unknown"


@pytest.mark.parametrize(
    ("preset", "override", "path", "message"),
    [
        ("gome", "optimizer.traces=0", "$.optimizer.traces", "must be >= 1: 0"),
        ("gome", "optimizer.estimator.skill=1.5", "$.optimizer.estimator.skill", "must be <= 1.0"),
    ],
)
def test_a_plugin_settings_range_is_checked_at_its_path(preset, override, path, message):
    from gome_core.plugins import get_registry

    with pytest.raises(ConfigError) as info:
        resolve(preset=preset, overrides=[override], registry=get_registry())
    assert [(p, m) for p, m in info.value.problems if p == path and message in m]
