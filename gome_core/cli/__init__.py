"""The ``gome`` command line.

Subcommands are imported only when they run, so ``gome --help`` stays fast and imports no ML
library, no vendor SDK and not even the plugin machinery.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from gome_core import __version__
from gome_core.errors import GomeError

__all__ = ["cli", "main"]

#: name -> ("module:attribute", one-line help shown by ``gome --help`` without importing it).
COMMANDS: dict[str, tuple[str, str]] = {
    "plugins": ("gome_core.cli.info:plugins", "List installed plugins and what they register."),
    "presets": ("gome_core.cli.info:presets", "List presets with their settings and sources."),
    "config": ("gome_core.cli.config:config", "Show or check the resolved configuration."),
    "tasks": ("gome_core.cli.tasks:tasks", "List, inspect and prepare competitions."),
    "grade": ("gome_core.cli.tasks:grade", "Grade submissions as MLE-bench does."),
    "run": ("gome_core.cli.run:run", "Run an agent on a competition."),
    "resume": ("gome_core.cli.run:resume", "Continue a run from its directory."),
    "report": ("gome_core.cli.report:report", "Write a self-contained HTML report of a run."),
    "study": (
        "gome_core.cli.study:study",
        "Run a grid of presets x models x competitions x seeds; tabulate and plot it.",
    ),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *super().list_commands(ctx)})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in COMMANDS:
            module, _, attr = COMMANDS[name][0].partition(":")
            return getattr(importlib.import_module(module), attr)  # type: ignore[no-any-return]
        return super().get_command(ctx, name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in sorted(COMMANDS)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GomeError as exc:
            if ctx.meta.get("gome.debug"):
                raise
            click.echo(click.style("Error: ", fg="red", bold=True) + str(exc), err=True)
            ctx.exit(exc.exit_code)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gome")
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
@click.option("--log-json", is_flag=True, help="Write logs as JSON lines to stderr.")
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
    help="Lowest level of log lines shown.",
)
@click.pass_context
def cli(ctx: click.Context, debug: bool, log_json: bool, log_level: str) -> None:
    """gome: machine-learning-engineering agents. Reasoning as gradient, tree search as plugins."""
    ctx.meta["gome.debug"] = debug
    from gome_core.cli.logs import configure_logging

    configure_logging(json=log_json, level="debug" if debug else log_level)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``gome`` script."""
    cli.main(args=argv, prog_name="gome")
