"""`python -m hubtools.cli ...`: the same as `hubtools ...` (how background Hub servers are started)."""

from hubtools.cli import main

main()
