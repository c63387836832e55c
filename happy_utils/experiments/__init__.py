"""Experiments: a run's spec resolved once (`spec`), the compared variants (`variants`), the stages before the loop
(`stages`), the main job (`run`), the paper's comparison (`compare`) and their printed tables (`tables`)."""
