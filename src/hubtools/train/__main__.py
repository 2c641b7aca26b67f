"""`python -m hubtools.train` and `accelerate launch -m hubtools.train`: the train command alone.

An entry point of its own, so the library module `hubtools.train` never imports the cli (which builds on it) and is
imported once, as itself, not a second time as `__main__`.
"""

from hubtools.cli.train import main

main()
