"""``gome config show``."""

from __future__ import annotations

import json

import click

from gome_core.config import resolve


def config_options(func):  # type: ignore[no-untyped-def]
    """The options every command that builds a configuration takes."""
    func = click.option(
        "--set",
        "overrides",
        multiple=True,
        metavar="KEY=VALUE",
        help="Override one setting, e.g. --set executor.timeout_s=600 (repeatable).",
    )(func)
    func = click.option(
        "-c",
        "--config",
        "files",
        multiple=True,
        type=click.Path(dir_okay=False),
        help="A TOML config file (repeatable; later files win).",
    )(func)
    return click.option("--preset", help="Start from this preset (see `gome presets`).")(func)


@click.group()
def config() -> None:
    """Show or check the resolved configuration."""


@config.command("show")
@config_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON with plugin versions.")
def show(
    preset: str | None, files: tuple[str, ...], overrides: tuple[str, ...], as_json: bool
) -> None:
    """Print the configuration that a run with these options would use.

    Layers, lowest first: defaults, --preset, each -c file, each --set. Every setting is checked
    against the schema of the component it belongs to.
    """
    # As `gome run` resolves it: the gome preset when nothing names one and no file is given.
    resolved = resolve(
        preset=preset, files=files, overrides=overrides, fallback_preset=None if files else "gome"
    )
    if as_json:
        click.echo(json.dumps(resolved.describe(), indent=2))
    else:
        click.echo(resolved.to_toml(), nl=False)
