"""The files of one (preset, source): what each notebook loads and saves, named in one place and said aloud.

Why: the notebooks hand results to each other (02's VQ-VAE, 03's surrogate, 05's run, which 06 evaluates). Passed
implicitly, a learner cannot tell what a cell reused or recomputed, a notebook run again with another setting
collided with its earlier run, and an evaluation notebook wrote into the command line's folders. Here every notebook
asks for a path and says what it loaded or saved; a notebook run's folder is named by its settings (another
setting, another folder), notebook outputs live under `runs/notebooks/PRESET-SOURCE/`, and the command line's
comparison folder is only ever read.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

from .config import Paths, Preset, Source, device, get_paths, get_preset, get_source, repo_root
from .data.faces import FaceDataset
from .data.sources import load_faces
from .generators.training import SHIPPED_DIR, shipped_model
from .generators.vqvae import VQVAE, load_or_train_vqvae, vqvae_checkpoint
from .latents import LatentSet, latent_set
from .scorers.base import SmileScorer
from .surrogates.trees import TreeSurrogate


def _show(path: Path) -> str:
    """A path relative to the working directory's parent when it lies there (notebooks run from notebooks/)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve().parent))
    except ValueError:
        return str(path)


@dataclass(frozen=True)
class Artifacts:
    """The artifact paths of one preset and data source. `verbose` prints each load and save."""

    preset: Preset
    source: Source
    paths: Paths
    verbose: bool = True

    @classmethod
    def of(cls, preset: Preset | str | None, source: Source | str | None, verbose: bool = True) -> Artifacts:
        """A notebook's edge: its PRESET and SOURCE knobs resolved once, in the setup cell that sets them (a typo is a
        clear error here, before any later cell passes SOURCE on)."""
        cfg = preset if isinstance(preset, Preset) else get_preset(preset)
        return cls(cfg, get_source(source), get_paths(), verbose)

    def describe(self) -> str:
        """What this notebook will work with, found before any work: the preset's sizes, the device, whether a
        pretrained VQ-VAE of the preset is already there (shipped or cached) or will be trained, where outputs go."""
        cfg = self.preset
        label = f"{cfg.name}-w{cfg.vqvae_width}-seed0-*.pt"
        shipped = sorted((self.paths.data / SHIPPED_DIR / "vqvae").glob(label))
        cached = sorted((self.paths.cache / "vqvae").glob(label))
        found = (f"a shipped VQ-VAE of this preset ({_show(shipped[0])}): no training needed when the faces match"
                 if shipped else f"a cached VQ-VAE of this preset ({_show(cached[0])})" if cached
                 else f"no VQ-VAE of this preset yet: notebook 02 trains one ({cfg.vqvae_epochs:g} epochs)")
        return "\n".join([
            f"preset {cfg.name}: {cfg.train_size:,} faces rendered for training, VQ-VAE width {cfg.vqvae_width}, "
            f"{cfg.surrogate_trees} trees, t = {cfg.free_cells}, {cfg.budget} queries a run; source {self.source}; "
            f"device {device().type}",
            found,
            f"this notebook's outputs: {_show(self.notebooks)}",
            f"what the preset costs on this runtime: python -m happy_utils estimate --preset {cfg.name}"])

    def say(self, verb: str, what: str, path: Path) -> None:
        if self.verbose:
            print(f"{verb} {what}: {_show(path)}")

    @property
    def notebooks(self) -> Path:
        """Where the notebooks' own outputs go (surrogates, runs)."""
        return self.paths.runs / "notebooks" / f"{self.preset.name}-{self.source}"

    @property
    def cli_comparison(self) -> Path:
        """The command line's comparison of this preset (`python -m happy_utils compare`): read, never written."""
        return self.paths.runs / f"compare-{self.preset.name}"

    @property
    def claims_results(self) -> Path:
        """The claims' summaries (`python -m happy_utils claims`): this preset's in results/, else the laptop preset's
        committed ones (the real-size figures); read, never written."""
        results = repo_root() / "results"
        mine = results / self.preset.name
        return mine if (mine / "claims.json").exists() else results / "laptop"

    def vqvae(self, faces: FaceDataset, progress: bool = True) -> VQVAE:
        """The preset's pretrained VQ-VAE of these restricted faces: loaded from the cache (or the repository's
        shipped copy), or trained and saved."""
        path = vqvae_checkpoint(self.preset, faces)
        existed = path.exists()
        model = load_or_train_vqvae(self.preset, faces, progress=progress)
        how = "loaded" if existed else "copied from data/ and loaded" if shipped_model(path) else "trained and saved"
        self.say(how, "the VQ-VAE", path)
        return model

    def latents(self, target: str, scorer: SmileScorer) -> LatentSet:
        """The restricted faces in the pretrained VQ-VAE's codes, labelled for the surrogate (`latents.latent_set`),
        saying where the VQ-VAE came from."""
        self.vqvae(load_faces("train", self.preset, self.source).restricted())  # trained here if it must be
        return latent_set(self.preset, self.source, target=target, scorer=scorer)

    def surrogate_path(self, target: str) -> Path:
        return self.notebooks / f"surrogate-{target}.pkl"

    def save_surrogate(self, surrogate: TreeSurrogate, target: str, generator: VQVAE) -> Path:
        """Save notebook 03's fitted tree ensemble for notebook 04, with the VQ-VAE it was fitted on (a pickle: load
        only files you made)."""
        path = self.surrogate_path(target)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pickle.dumps({"surrogate": surrogate, "vqvae": generator.meta["made_by"]}))
        self.say("saved", f"the surrogate ({target} target)", path)
        return path

    def load_surrogate(self, target: str, generator: VQVAE) -> TreeSurrogate | None:
        """Notebook 03's surrogate of this VQ-VAE, or None (saying why) when 03 has not saved one for it."""
        path = self.surrogate_path(target)
        saved = pickle.loads(path.read_bytes()) if path.exists() else None
        if saved is None or saved["vqvae"] != generator.meta["made_by"]:
            if self.verbose:
                why = "no surrogate" if saved is None else "the surrogate of another VQ-VAE"
                print(f"{why} at {_show(path)}: notebook 03 saves it; fitting one here instead")
            return None
        self.say("loaded", f"notebook 03's surrogate ({target} target)", path)
        return saved["surrogate"]

    def notebook_run_folder(self, notebook: str, **settings) -> Path:
        """The folder of a notebook's run with these settings, said nowhere: how another notebook names the run it
        reads (not "the newest", which depends on what was run last)."""
        return self.notebooks / "-".join([notebook] + [f"{k}{v}" for k, v in settings.items()])

    def notebook_run(self, notebook: str, **settings) -> Path:
        """The folder of a notebook's run, named by its settings: the same settings resume it, others start anew."""
        path = self.notebook_run_folder(notebook, **settings)
        self.say("resuming" if path.is_dir() and any(path.iterdir()) else "starting", "a run", path)
        return path
