import json

import pytest


def test_version(gome):
    from gome_core import __version__

    result = gome("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"gome, version {__version__}"


def test_help_lists_commands(gome):
    result = gome("--help")
    assert result.returncode == 0
    for command in ("plugins", "presets", "config"):
        assert command in result.stdout


def test_plugins_json_lists_first_party_plugins(gome):
    result = gome("plugins", "--json")
    assert result.returncode == 0, result.stderr
    plugins = {p["name"]: p for p in json.loads(result.stdout)}
    assert plugins["core"]["provides"]["executor"] == ["local"]
    assert plugins["core"]["distribution"] == "gome"


def test_plugins_table(gome):
    result = gome("plugins")
    assert result.returncode == 0
    assert "executor: local" in result.stdout


def test_presets_json_lists_every_built_in_preset_with_its_settings(gome):
    result = gome("presets", "--json")
    assert result.returncode == 0
    presets = {p["name"]: p for p in json.loads(result.stdout)}
    assert {"gome", "quickstart", "aide-greedy", "aira-mcts", "gome-no-memory"} <= set(presets)
    assert all(p["description"] and p["plugin"] for p in presets.values())
    assert presets["aide-greedy"]["settings"]["optimizer"]["name"] == "aide-greedy"


def test_config_show_prints_resolved_toml(gome, tmp_path):
    config = tmp_path / "run.toml"
    config.write_text("seed = 3\n[executor]\ntimeout_s = 60\n")
    result = gome("config", "show", "-c", str(config), "--set", "budget.steps=4")
    assert result.returncode == 0, result.stderr
    assert "seed = 3" in result.stdout and "timeout_s = 60.0" in result.stdout
    assert "steps = 4" in result.stdout
    assert "# executor = 'local': gome" in result.stdout


def test_a_preset_named_in_a_config_file_is_the_one_applied(gome, tmp_path):
    config = tmp_path / "run.toml"
    config.write_text('preset = "aide-greedy"\n')
    result = gome("config", "show", "--json", "-c", str(config))
    assert result.returncode == 0, result.stderr
    described = json.loads(result.stdout)
    assert described["config"]["preset"] == "aide-greedy"
    assert described["config"]["optimizer"]["name"] == "aide-greedy"


def test_config_show_json(gome):
    result = gome("config", "show", "--json")
    described = json.loads(result.stdout)
    assert described["config"]["executor"]["name"] == "local"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["config", "show", "--set", "executor.nonexistent=1"],
            "$.executor.nonexistent: unknown key",
        ),
        (
            ["config", "show", "--set", "executor.timeout_s=ten"],
            '$.executor.timeout_s: expected a number, got "ten"',
        ),
        (["config", "show", "--preset", "nope"], "no preset named 'nope'"),
        (
            ["run", "--preset", "aide-greedy", "--task", "penguins-mass", "--traces", "4"],
            "--traces applies to Gome presets only",
        ),
        (["run", "--task", "penguins-mass", "--llm", "openai:"], "--llm openai: names no model"),
        (
            ["config", "show", "--preset", "gome", "--set", "preset=aide-greedy"],
            "$.preset: 'aide-greedy' differs from the preset given ('gome')",
        ),
        (["config", "show", "--set", "oops"], "expected KEY=VALUE"),
        (["config", "show", "-c", "missing.toml"], "missing.toml does not exist"),
    ],
)
def test_bad_input_is_one_paragraph_exit_2_no_traceback(gome, args, expected):
    result = gome(*args)
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("Error: ")


def test_debug_shows_the_traceback(gome):
    result = gome("--debug", "config", "show", "--set", "executor.nonexistent=1")
    assert result.returncode != 0
    assert "Traceback" in result.stderr and "ConfigError" in result.stderr


def test_log_json_writes_json_lines_to_stderr(gome):
    result = gome("--log-json", "--log-level", "debug", "plugins", "--json")
    assert result.returncode == 0
    events = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]
    loaded = [e for e in events if e["event"] == "plugin loaded"]
    assert loaded and loaded[0]["plugin"] == "core" and loaded[0]["level"] == "debug"
    json.loads(result.stdout)  # stdout stays clean JSON


def test_default_log_level_hides_debug_lines(gome):
    result = gome("plugins", "--json")
    assert result.returncode == 0 and json.loads(result.stdout)
    assert "plugin loaded" not in result.stderr
