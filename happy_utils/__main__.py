"""`python -m happy_utils ...`: the command line (see `happy_utils.experiments.cli`)."""

from .experiments.cli import main

main()
