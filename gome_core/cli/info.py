"""``gome plugins`` and ``gome presets``."""

from __future__ import annotations

import json

import click

from gome_core.plugins import COMPONENT_KINDS, get_registry


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def plugins(as_json: bool) -> None:
    """List installed plugins and the components each registers."""
    registry = get_registry()
    rows = [
        {
            "name": p.name,
            "module": p.module,
            "distribution": p.distribution,
            "version": p.version,
            "builtin": p.builtin,
            "provides": registry.provided_by(p),
            "hooks": registry.hooks(p),
        }
        for p in registry.plugins
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("plugin", "distribution", "provides", title="gome plugins")
    for row in rows:
        provides = "\n".join(
            f"{COMPONENT_KINDS[k][1] if k in COMPONENT_KINDS else k}: {', '.join(v)}"
            for k, v in row["provides"].items()
        )
        dist = f"{row['distribution']} {row['version']}" if row["distribution"] else "-"
        # A plugin of run hooks only (an observer) registers nothing: say which hooks it has.
        table.add_row(row["name"], dist, provides or f"hooks: {', '.join(row['hooks'])}")
    Console().print(table)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def presets(as_json: bool) -> None:
    """List presets: what each sets, where its defaults come from, which plugin provides it."""
    registry = get_registry()
    rows = [
        {
            "name": p.name,
            "description": p.description,
            "source": p.source,
            "plugin": p.plugin.name,
            "settings": dict(p.settings),
            "with_llm": dict(p.with_llm),
        }
        for p in sorted(registry.presets.values(), key=lambda p: p.name)
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    if not rows:
        click.echo(
            "No presets are registered. Install a plugin that provides some, e.g. gome's "
            "first-party optimizers."
        )
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("preset", "description", "source", "plugin", title="gome presets")
    for row in rows:
        table.add_row(row["name"], row["description"], row["source"], row["plugin"])
    Console().print(table)
