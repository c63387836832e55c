"""happy_utils: the support package of the happy-people notebooks (data, models, optimiser, loop, metrics, plots).

Start with `from happy_utils.config import setup; cfg = setup()`; the command line is `python -m happy_utils --help`.
"""

__version__ = "0.2.0"
