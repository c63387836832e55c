"""`python -m happy_utils ...`: the command line (see `happy_utils.cli`)."""

from .cli import main

main()
