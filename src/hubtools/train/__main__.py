"""`python -m hubtools.train` (and `accelerate launch -m hubtools.train`): the train command alone.

A package's `__main__` runs as its own module, so `hubtools.train` is imported once and its error
classes (RunDirError, ...) are the ones the CLI's error table matches.
"""

from hubtools.cli.train import main

main()
