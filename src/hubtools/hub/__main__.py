"""`python -m hubtools.hub ...`: the `hubtools hub` commands alone (how background servers are started)."""

import sys

import typer

from hubtools.errors import HubtoolsError
from hubtools.hub.cli import hub_app

try:
    hub_app(standalone_mode=True)
except HubtoolsError as error:
    typer.echo(f"Error: {error}", err=True)
    sys.exit(2)
