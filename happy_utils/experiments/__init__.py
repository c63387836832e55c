"""The experiment harness: what measures the method, apart from it (the method never imports this package).

The command line (`cli`, run by `python -m happy_utils`); a run's spec resolved once (`spec`), the compared variants
(`variants`) and the paper's continuous baseline (`baseline`); the stages before the loop (`stages`), one seed's loop
(`seed`), seeds as Ray tasks (`fanout`), the main job (`run`); the paper's comparison (`compare`, `tables`, `quality`),
its claims and their pages (`claims`, `seed_measures`, `claims_report`), beyond the paper (`beyond`,
`support_diagnosis`); reproducing a committed seed (`reproduce`), benchmarks and costs (`bench`, `costs`, `planted`,
`distortions`); the pinned versions (`constraints`) and the notebooks' Colab cells (`colab`).
"""
