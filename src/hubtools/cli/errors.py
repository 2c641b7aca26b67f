"""One table from exception to one line on stderr and an exit status."""

from __future__ import annotations

import sys

import typer

from hubtools.errors import HubtoolsError


def run_cli(app: typer.Typer) -> None:
    """Run a typer app; a HubtoolsError becomes one line on stderr and exit status 2."""
    try:
        app(standalone_mode=True)
    except HubtoolsError as error:
        typer.echo(f"Error: {error}", err=True)
        sys.exit(2)
