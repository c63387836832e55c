"""A training's progress, saved so that an interrupted training resumes where it stopped.

Why: the generators, the synthetic oracle and judge, and the realism network train for minutes to hours, on
machines that get interrupted. Each saves its parts (model, optimiser, scheduler, random generator) and its own
extras (step, history, seconds) under a key that names the training (its settings, its plan of batches); a state
saved for another key is never resumed, so a changed setting starts afresh instead of resuming the wrong training.
"""

from __future__ import annotations

from pathlib import Path

import torch

from .files import atomic_path


def _state(part) -> object:
    return part.get_state() if isinstance(part, torch.Generator) else part.state_dict()


def save_progress(path: Path, key, parts: dict[str, object], **extra) -> None:
    """Save each part's state (a module, optimiser or scheduler's state dict; a torch.Generator's state) and the
    extras under `key`, atomically: a crash while saving leaves the previous progress."""
    with atomic_path(Path(path)) as tmp:
        torch.save({"key": key, **{name: _state(part) for name, part in parts.items()}, **extra}, tmp)


def resume_progress(path: Path | None, key, parts: dict[str, object], device: torch.device | str = "cpu"
                    ) -> dict | None:
    """Restore the parts from the progress at `path` if it was saved under `key`; the saved state (its extras), or
    None for a fresh start (no file, or another training's)."""
    if path is None or not Path(path).exists():
        return None
    state = torch.load(path, map_location=device, weights_only=False)
    if state.get("key") != key:
        return None
    for name, part in parts.items():
        if isinstance(part, torch.Generator):
            part.set_state(state[name])
        else:
            part.load_state_dict(state[name])
    return state
