"""`python -m hubtools.hub ...`: the `hubtools hub` commands (used to start background servers)."""

from hubtools.hub.cli import hub_app

hub_app()
