"""Command line: `python -m happy_utils COMMAND ...` (run, compare, bench, train-oracle, eval-oracle, notebooks, ...);
`--help` lists them all, `COMMAND --help` each one's arguments.

Why: the whole experiment (many seeds, no notebook) and the benchmarks run from a shell; each command resolves its
arguments and the environment once into a spec and calls the same functions as the notebooks.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import matplotlib

from ..config import (
    PRESETS,
    SOURCES,
    Source,
    get_paths,
    get_preset,
    get_source,
    repo_root,
    seed_and_style,
)
from ..data.celeba import celeba_root
from ..data.faces import (
    PROBE_FILE,
    check_renderer,
    within_rounding,
    write_renderer_probe,
)
from ..data.sources import load_faces
from ..data.world import RENDERER_VERSION
from ..files import write_checksum
from ..generators.training import SHIPPED_DIR
from ..latents import SURROGATE_TARGETS
from ..provenance import made_with
from ..scorers.loading import REALISM_FILE, SHIPPED, evaluate_scorers, load_realism
from ..scorers.predictor import PREDICTOR_FILE, calibrate, calibration_path
from ..scorers.realism import calibrate_threshold, load_judge, save_judge, train_inverse
from ..scorers.synthetic import train_scorer
from .bench import BENCHMARKS
from .claims import Plan, interim, measure, run_claims
from .claims_report import README_RESULTS, write_report
from .colab import REPO_REF, sync_notebooks
from .compare import comparison_specs, run_comparison
from .constraints import write_constraints
from .costs import runtime_report
from .executed import EXECUTED_DIR, execute, stale
from .fanout import ADDRESS_ENV, JobsFailed, default_workers, ray_installed, require_ray
from .quality import CALIBRATION_SEED, evaluate_quality, print_quality
from .reproduce import describe, reproduce
from .run import run_experiment
from .spec import RunSpec, parse_seeds
from .tables import comparison_text
from .variants import GENERATORS, PAPER_VARIANTS, VARIANTS


def _run(args: argparse.Namespace) -> None:
    spec = RunSpec.resolve(args.preset, args.source, args.variant, args.seeds, budget=args.budget,
                           free_cells=args.free_cells, target=args.target, threads=args.threads,
                           min_count=args.min_count, neighbours=args.neighbours, prior_weight=args.prior_weight,
                           trust_region=args.trust_region)
    out = Path(args.out) if args.out else get_paths().runs / f"{spec.preset.name}-{args.variant}"
    run_experiment(spec, out, workers=_workers(args), address=args.address)


def _compare(args: argparse.Namespace) -> None:
    variants = args.variants.split(",") if args.variants else None
    specs = comparison_specs(args.preset, args.source, args.seeds, variants, budget=args.budget,
                             threads=args.threads)
    out = Path(args.out) if args.out else get_paths().runs / f"compare-{specs[0].preset.name}"
    print(comparison_text(run_comparison(specs, out, workers=_workers(args), address=args.address)))


def _claims(args: argparse.Namespace) -> None:
    if args.report:
        folder = _results_folder(args, args.preset or "laptop")
        print(write_report(folder, _readme_of(folder)))
        print(f"README.md and figures/ regenerated in {folder}")
        return
    plan = Plan.resolve(args.preset, args.source, args.seeds, args.budget, args.long_budget, args.threads or 1,
                        args.out)
    folder = _results_folder(args, plan.preset.name)
    if args.interim:
        print(interim(plan, folder))
        return
    if args.measure_only:
        measure(plan, folder)
    elif run_claims(plan, folder, workers=_workers(args), address=args.address,
                    variants=args.variants.split(",") if args.variants else None) is None:
        print(f"the measured seeds are in {folder / 'seeds'}; the runs in {plan.out}")
        return
    print(write_report(folder, _readme_of(folder)))
    print(f"summaries, README.md and figures/ in {folder}; the seeds' measures in {folder / 'seeds'}; the runs in "
          f"{plan.out}")


def _estimate(args: argparse.Namespace) -> None:
    print(runtime_report(get_preset(args.preset)))


def _reproduce(args: argparse.Namespace) -> None:
    cfg = get_preset(args.preset)
    results = _results_folder(args, cfg.name)
    out = Path(args.out) if args.out else get_paths().runs / f"reproduce-{cfg.name}-{args.variant}-seed{args.seed}"
    report = reproduce(cfg, get_source(args.source), args.variant, args.seed, args.queries, args.threads, results, out)
    print(describe(report))
    print(f"written to {out / 'reproduction.json'}")


def _results_folder(args: argparse.Namespace, preset: str) -> Path:
    """--results, else the repository's results of the preset (results/PRESET, the committed ones for laptop)."""
    return Path(args.results) if args.results else repo_root() / "results" / preset


def _readme_of(folder: Path) -> Path | None:
    """The repository README, whose claims section shows the committed laptop claims, when `folder` is theirs."""
    root = repo_root()
    return root / "README.md" if folder.resolve() == (root / README_RESULTS).resolve() else None


def _workers(args: argparse.Namespace) -> int:
    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers must be >= 1, got {args.workers}")
    if (args.workers or 1) > 1 or args.address or os.environ.get(ADDRESS_ENV):
        require_ray(f"--workers {args.workers}" if (args.workers or 1) > 1 else "--address (or $RAY_ADDRESS)")
    workers = args.workers or default_workers(args.threads or 1)
    if args.workers is None and not ray_installed() and (os.cpu_count() or 1) > 1:
        print("Ray is not installed: the seeds run one after another in this process (pip install -e \".[ray]\" "
              "runs them as Ray tasks, one per core)")
    return workers


def _fanout_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workers", type=int, help="seeds run at once, each a Ray task (default: the cores / "
                        "--threads; 1 runs them in this process, one after another)")
    parser.add_argument("--threads", type=int, help="torch and LightGBM threads per seed (default 1); results "
                        "depend on it, so a run records it")
    parser.add_argument("--address", help="join the Ray cluster at this address (default: $RAY_ADDRESS, else a "
                        "local one on 127.0.0.1 for this command); run folders must be on storage every node sees")


def _bench(args: argparse.Namespace) -> None:
    kwargs = {"as_json": args.json}
    if args.n:
        kwargs["n"] = args.n
    if args.preset:
        if args.name not in ("mio", "surrogate", "loop", "scale", "stages"):
            sys.exit("error: --preset only applies to 'bench mio', 'surrogate', 'loop', 'scale' and 'stages'")
        kwargs["preset"] = args.preset
    BENCHMARKS[args.name](**kwargs)


def _train_oracle(args: argparse.Namespace) -> None:
    cfg = get_preset(args.preset)
    out_dir = Path(args.out) if args.out else get_paths().data
    for which in (SHIPPED if args.which == "both" else [args.which]):
        filename, seed = SHIPPED[which]
        path = out_dir / filename
        ckpt = train_scorer(which, seed, cfg.oracle_images_per_epoch, cfg.oracle_epochs, path)
        write_checksum(path)
        print(json.dumps({which: ckpt["meta"]["history"][-1], "path": str(path)}))


def _train_realism(args: argparse.Namespace) -> None:
    path = Path(args.out) if args.out else get_paths().data / REALISM_FILE
    ckpt = train_inverse(args.steps, path, batch_size=args.batch_size)
    judge = load_judge(path)
    calibration = calibrate_threshold(judge, CALIBRATION_SEED, args.calibration_n)
    save_judge(judge, path, ckpt["config"], calibration)
    write_checksum(path)
    print(json.dumps({"path": str(path), "calibration": calibration, "last": ckpt["meta"]["history"][-1]}))


def _eval_quality(args: argparse.Namespace) -> None:
    result = evaluate_quality(load_realism(Source.SYNTHETIC), args.seed, args.n)
    if args.json:
        print(json.dumps(result))
    else:
        print_quality(result)


def _calibrate_predictor(args: argparse.Namespace) -> None:
    cfg = get_preset(args.preset)
    result = calibrate(celeba_root(), cfg)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"temperature {result['temperature']:.4f} on {result['images']} validation faces: NLL "
              f"{result['nll_before']:.4f} -> {result['nll_after']:.4f}, ECE {result['ece_before']:.4f} -> "
              f"{result['ece_after']:.4f}; written to {calibration_path(celeba_root() / PREDICTOR_FILE)}")


def _eval_oracle(args: argparse.Namespace) -> None:
    result = evaluate_scorers(args.seed, args.n)
    if args.json:
        print(json.dumps(result))
    else:
        for which, m in result.items():
            print(f"{which:7s} exact {m['exact_acc']:.3f}  within one {m['within_one_acc']:.3f}  "
                  f"MAE {m['mae']:.3f}  ({args.n} faces of seed {args.seed})")


def _pretrain(args: argparse.Namespace) -> None:
    cfg = get_preset(args.preset)
    faces = load_faces("train", cfg, get_source(args.source)).restricted()
    for kind in (GENERATORS if args.generator == "both" else [args.generator]):
        model = GENERATORS[kind].load_or_train(cfg, faces, retrain=args.retrain)
        path = GENERATORS[kind].checkpoint(cfg, faces)
        fit = {k: v for k, v in model.meta["fit"].items() if k != "latents"}
        print(json.dumps({"generator": kind, "path": str(path), "made_by": model.meta["made_by"],
                          "train_seconds": model.meta["seconds"], "made_with": model.meta["made_with"], "fit": fit}))
        if args.ship:
            shipped = get_paths().data / SHIPPED_DIR / kind / path.name
            shipped.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, shipped)
            write_checksum(shipped)
            print(f"shipped as {shipped} (checksum in {shipped.parent / 'SHA256SUMS'}); commit both")


def _renderer(args: argparse.Namespace) -> None:
    path = get_paths().data / PROBE_FILE
    if args.write:
        write_renderer_probe(path)
        print(f"wrote the probe faces of renderer version {RENDERER_VERSION} to {path}")
        return
    diff, machine = check_renderer(path), made_with()
    verdict = ("within rounding: caches and shipped models of renderer version {v} are taken here" if
               within_rounding(diff) else "beyond rounding: the drawing changed; bump RENDERER_VERSION in "
               "happy_utils/data/world.py and write the probe anew (--write)").format(v=RENDERER_VERSION)
    print(f"renderer version {RENDERER_VERSION} on {machine['cpu']} ({machine['cpu_capability']}) against "
          f"{path.name}: {diff}; {verdict}")
    if not within_rounding(diff):
        sys.exit(1)


def _support(args: argparse.Namespace) -> None:
    from .support_diagnosis import diagnose, table

    cfg = get_preset(args.preset)
    results = _results_folder(args, cfg.name)
    print(table(diagnose(cfg, results, get_source(args.source))))
    print(f"written to {results / 'support.json'}")


def _beyond(args: argparse.Namespace) -> None:
    from . import beyond
    from .claims import BEYOND, PAIR

    cfg = get_preset(args.preset)
    results = _results_folder(args, cfg.name)
    reference = Path(args.reference) if args.reference else repo_root() / "results" / cfg.name / "claims.json"
    if not reference.exists():
        raise FileNotFoundError(f"{reference} (the restricted set's Top10, from the committed claims) is missing: "
                                "pass --reference CLAIMS_JSON")
    restricted_top10 = json.loads(reference.read_text())["training_best"]["top10"]
    variants = args.variants.split(",") if args.variants else [PAIR[0], *BEYOND]
    report = beyond.study(results, variants, args.budget or cfg.budget, parse_seeds(args.seeds) if args.seeds else None,
                          restricted_top10)
    print(beyond.table(report))
    beyond.write_study(report, results / "beyond.json")
    print(f"written to {results / 'beyond.json'}")
    if args.runs:
        from ..scorers.loading import load_realism

        figure, left_out = beyond.best_valid_figure(results, [Path(r) for r in args.runs.split(",")], variants,
                                                    report["budget"], load_realism(Source.SYNTHETIC))
        if left_out:
            print(f"no run folder (or no valid query) under {args.runs} for {', '.join(left_out)}: left out")
        if figure is not None:
            path = results / "figures" / "beyond_best_valid.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            figure.savefig(path, dpi=110, bbox_inches="tight")
            print(f"the best realistic queries: {path}")


def _constraints(args: argparse.Namespace) -> None:
    path = repo_root() / "constraints.txt"
    print(f"{write_constraints(path)} packages pinned in {path}")


def _notebooks(args: argparse.Namespace) -> None:
    folder = repo_root() / "notebooks"
    copies = repo_root() / EXECUTED_DIR
    if args.execute:
        names = args.only or sorted(p.name for p in folder.glob("*.ipynb"))
        runs = Path(args.runs_dir or tempfile.mkdtemp(prefix="happy-executed-"))
        print(f"the notebooks' runs go to {runs}")
        for name in names:
            source = folder / name
            if not source.exists():
                sys.exit(f"error: --only {name}: no such notebook in {folder}")
            print(f"executing {name} at the {args.preset} preset ...", flush=True)
            try:
                made = execute(source, copies, args.preset, runs)
            except Exception as error:  # a cell failed: say which notebook, keep the copies already made
                sys.exit(f"error: {name} failed at the {args.preset} preset ({type(error).__name__}): {error}")
            print(f"wrote {made.relative_to(repo_root())}", flush=True)
        return
    differ = sync_notebooks(folder, write=args.sync)
    for name, parts in differ.items():
        print(f"{name}: {', '.join(parts)} {'rewritten' if args.sync else 'differ from happy_utils.experiments.colab'}")
    if not differ:
        print(f"the notebooks in {folder} match happy_utils.experiments.colab (ref {REPO_REF})")
    old = stale(folder, copies)
    for name, why in old.items():
        print(f"{EXECUTED_DIR}/{name} is stale: {why}")
    if not old:
        print(f"the executed copies in {EXECUTED_DIR}/ have the sources' cells")
    if differ and not args.sync:
        sys.exit("error: notebooks are out of sync with happy_utils.experiments.colab; run `python -m happy_utils "
                 "notebooks --sync`")
    if old:
        sys.exit("error: executed copies are stale; run `python -m happy_utils notebooks --execute` (--only NAME for "
                 "one) and commit them")


def _preset_and_source(parser: argparse.ArgumentParser, source: bool = True) -> None:
    """--preset (and --source), as the commands that make or read runs take them."""
    parser.add_argument("--preset", choices=list(PRESETS), help="size preset (default: $HAPPY_PRESET or laptop)")
    if source:
        parser.add_argument("--source", choices=SOURCES, help="data source (default: $HAPPY_SOURCE or synthetic)")


def _add_run(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser("run", help="run the experiment's stages and write a summary and figures")
    _preset_and_source(run)
    run.add_argument("--out", help="run directory (default: runs/PRESET-VARIANT); an interrupted run resumes there")
    run.add_argument("--seeds", help="seeds, e.g. 0-2 or 0,3,5 (default: the preset's n_seeds, from 0)")
    run.add_argument("--variant", choices=list(VARIANTS), default="vqvae-wr",
                     help="; ".join(f"{v.name}: {v.title}" for v in VARIANTS.values()) + " (default: vqvae-wr)")
    run.add_argument("--budget", type=int, help="queries per seed (default: the preset's)")
    run.add_argument("--free-cells", type=int, help="free latent cells t (default: the variant's, else the "
                                                    "preset's; a variant that fixes t refuses another)")
    run.add_argument("--target", choices=SURROGATE_TARGETS, help="what the surrogate learns: raw, the paper's f(x); "
                     "decoded, f(d(e(x))) (default: the variant's, else the preset's)")
    guards = run.add_argument_group("guards (beyond the paper): keep the MIO on what the training faces support; "
                                    "each overrides the variant's")
    guards.add_argument("--min-count", type=int, help="supported codes: a free cell takes only codes seen at least "
                        "this often at that cell in the training faces (0: any)")
    guards.add_argument("--neighbours", action=argparse.BooleanOptionalAction, help="compatible neighbours: every "
                        "adjacent pair of a free cell seen together at that position")
    guards.add_argument("--prior-weight", type=float, help="lambda of the pairwise log-frequency prior added to the "
                        "trees' objective (0: none)")
    guards.add_argument("--trust-region", action=argparse.BooleanOptionalAction, help="at most a radius of the t "
                        "free cells change, growing after successes and shrinking after failures")
    _fanout_arguments(run)
    run.set_defaults(func=_run)


def _add_compare(sub: argparse._SubParsersAction) -> None:
    comp = sub.add_parser("compare", help="run every variant with the same seeds, then Figure 3 and Table 1")
    _preset_and_source(comp)
    comp.add_argument("--seeds", help="seeds, e.g. 0-2 (default: the preset's n_seeds, from 0)")
    comp.add_argument("--variants", help=f"comma-separated, from {', '.join(VARIANTS)} (default: the paper's: "
                      f"{', '.join(PAPER_VARIANTS)})")
    comp.add_argument("--budget", type=int, help="queries per seed (default: the preset's)")
    comp.add_argument("--out", help="folder of the variants' runs and the comparison (default: runs/compare-PRESET)")
    _fanout_arguments(comp)
    comp.set_defaults(func=_compare)


def _add_claims(sub: argparse._SubParsersAction) -> None:
    cl = sub.add_parser("claims", help="test the paper's four claims: run the pair long and every variant at the "
                        "comparison's budget (resumable), measure, write small JSON summaries, tables and figures")
    _preset_and_source(cl, source=False)
    cl.add_argument("--source", choices=SOURCES, help="data source (synthetic: the claims need its ground truth)")
    cl.add_argument("--seeds", help="seeds, at least 2, e.g. 0-4 (default: the preset's n_seeds, from 0)")
    cl.add_argument("--budget", type=int, help="queries per seed of the comparison (default: the preset's)")
    cl.add_argument("--long-budget", type=int, help="queries per seed of vqvae-wr and vqvae-nowr (default: 3 x "
                    "--budget); their first --budget queries enter the comparison")
    cl.add_argument("--out", help="folder of the runs (default: runs/claims-PRESET)")
    cl.add_argument("--results", help="folder of the summaries, tables and figures (default: results/PRESET in the "
                    "repository)")
    cl.add_argument("--variants", help="run only these of the claims' variants, comma-separated (a part of the "
                    "runs: each seed's measures are kept in --results/seeds; the claims are merged once all are there)")
    cl.add_argument("--measure-only", action="store_true", help="merge the seeds' measures in --results/seeds into "
                    "the summaries, run nothing")
    cl.add_argument("--report", action="store_true", help="only regenerate README.md and figures/ from the "
                    "summaries in --results (seconds, no runs)")
    cl.add_argument("--interim", action="store_true", help="print what the seeds measured so far in --results/seeds "
                    "show, while the runs are made in parts (seconds, no runs, nothing written)")
    _fanout_arguments(cl)
    cl.set_defaults(func=_claims)


def _add_reproduce(sub: argparse._SubParsersAction) -> None:
    rep = sub.add_parser("reproduce", help="rerun a committed seed's first queries and compare them, query by query, "
                         "with the committed claims' (does this machine reproduce them?)")
    _preset_and_source(rep)
    rep.add_argument("--variant", choices=list(VARIANTS), default="vqvae-wr")
    rep.add_argument("--seed", type=int, default=0)
    rep.add_argument("--queries", type=int, default=20, help="how many of its first queries (default 20)")
    rep.add_argument("--threads", type=int, default=1, help="torch and LightGBM threads (default 1, as the claims ran)")
    rep.add_argument("--results", help="the committed claims (default: results/PRESET in the repository)")
    rep.add_argument("--out", help="the rerun's folder (default: runs/reproduce-PRESET-VARIANT-seedS); resumable")
    rep.set_defaults(func=_reproduce)


def _add_estimate(sub: argparse._SubParsersAction) -> None:
    est = sub.add_parser("estimate", help="what the preset costs on this runtime: the VQ-VAE's training, notebook "
                         "05's run and one seed of the main job, projected from unit costs timed here (about a minute)")
    _preset_and_source(est, source=False)
    est.set_defaults(func=_estimate)


def _add_bench(sub: argparse._SubParsersAction) -> None:
    bench = sub.add_parser("bench", help="benchmarks that compare variants side by side")
    bench.add_argument("name", choices=list(BENCHMARKS))
    bench.add_argument("--n", type=int, help="number of items to time (mio: planted training codes; "
                       "stages: restricted faces)")
    bench.add_argument("--preset", choices=list(PRESETS), help="mio, surrogate: use this preset's real latent codes; "
                       "loop, scale: run this preset (default: $HAPPY_PRESET or laptop); stages: time its sizes "
                       "(default: paper)")
    bench.add_argument("--json", action="store_true", help="print one machine-readable JSON line")
    bench.set_defaults(func=_bench)


def _add_train_oracle(sub: argparse._SubParsersAction) -> None:
    train = sub.add_parser("train-oracle", help="train the synthetic oracle and/or judge and write their checksums")
    train.add_argument("--which", choices=["oracle", "judge", "both"], default="both")
    train.add_argument("--preset", choices=list(PRESETS), help="training size (the shipped weights: laptop)")
    train.add_argument("--out", help="folder for the weights (default: data/)")
    train.set_defaults(func=_train_oracle)


def _add_train_realism(sub: argparse._SubParsersAction) -> None:
    tr = sub.add_parser("train-realism", help="train the realism inverse network, calibrate its pass threshold, "
                                             "write its checksum")
    tr.add_argument("--steps", type=int, default=5000, help="training steps of fresh renders (default 5000)")
    tr.add_argument("--batch-size", type=int, default=64)
    tr.add_argument("--calibration-n", type=int, default=2000, help="clean renders of the calibration seed")
    tr.add_argument("--out", help=f"where to write it (default: data/{REALISM_FILE})")
    tr.set_defaults(func=_train_realism)


def _add_eval_quality(sub: argparse._SubParsersAction) -> None:
    eq = sub.add_parser("eval-quality", help="realism, Inception FID and world FID of clean and distorted renders "
                                             "of an unseen seed (and of cached VQ-VAEs' reconstructions)")
    eq.add_argument("--seed", type=int, required=True, help="a seed the realism judge never saw")
    eq.add_argument("--n", type=int, default=200, help="faces per set (default 200)")
    eq.add_argument("--json", action="store_true", help="print one machine-readable JSON object")
    eq.set_defaults(func=_eval_quality)


def _add_calibrate_predictor(sub: argparse._SubParsersAction) -> None:
    cal = sub.add_parser("calibrate-predictor", help="fit the CelebA predictor's temperature on CelebA-Dialog's "
                                                     "validation faces and write it beside predictor_128.pth.tar")
    cal.add_argument("--preset", choices=list(PRESETS), help="how many validation faces (default: $HAPPY_PRESET or "
                     "laptop)")
    cal.add_argument("--json", action="store_true", help="print one machine-readable JSON line")
    cal.set_defaults(func=_calibrate_predictor)


def _add_eval_oracle(sub: argparse._SubParsersAction) -> None:
    ev = sub.add_parser("eval-oracle", help="oracle and judge quality on freshly rendered faces of a seed")
    ev.add_argument("--seed", type=int, required=True, help="a seed the scorers never saw in training")
    ev.add_argument("--n", type=int, default=2000, help="number of faces (default 2000)")
    ev.add_argument("--json", action="store_true", help="print one machine-readable JSON line")
    ev.set_defaults(func=_eval_oracle)


def _add_pretrain(sub: argparse._SubParsersAction) -> None:
    pre = sub.add_parser("pretrain", help="load (from the cache or the repository) or train the preset's pretrained "
                         "generators, and say what made them")
    _preset_and_source(pre)
    pre.add_argument("--generator", choices=[*GENERATORS, "both"], default="vqvae")
    pre.add_argument("--retrain", action="store_true", help="train anew even though the cache or the repository has "
                     "one (e.g. when the data changed and the shipped model no longer fits it); replaces the cached "
                     "one")
    pre.add_argument("--ship", action="store_true", help="copy the model into data/generators/ with its checksum, "
                     "where every machine finds it")
    pre.set_defaults(func=_pretrain)


def _add_renderer(sub: argparse._SubParsersAction) -> None:
    ren = sub.add_parser("renderer", help="compare this machine's renders of the probe faces with the stored ones "
                         "(rounding, or a changed drawing?)")
    ren.add_argument("--write", action="store_true", help=f"store this renderer's probe faces in data/{PROBE_FILE} "
                     "(after bumping RENDERER_VERSION)")
    ren.set_defaults(func=_renderer)


def _add_support(sub: argparse._SubParsersAction) -> None:
    sup = sub.add_parser("support", help="how far the committed claims' queries leave the data: codes never seen at "
                         "their cell, neighbour pairs never seen together, and the realism pass rate by each")
    sup.add_argument("--preset", choices=list(PRESETS), default="laptop", help="preset of the committed claims")
    sup.add_argument("--source", choices=SOURCES, help="data source (default: synthetic)")
    sup.add_argument("--results", help="the committed claims (default: results/PRESET in the repository)")
    sup.set_defaults(func=_support)


def _add_beyond(sub: argparse._SubParsersAction) -> None:
    bey = sub.add_parser("beyond", help="beyond the paper: each guarded variant's measured seeds against the goals "
                         "(valid share, realistic level-4 smiles, best valid true degree, valid Top10)")
    bey.add_argument("--preset", choices=list(PRESETS), default="laptop")
    bey.add_argument("--results", help="folder whose seeds/ holds the measured seeds (default: results/PRESET)")
    bey.add_argument("--budget", type=int, help="over each seed's first this many queries (default: the preset's)")
    bey.add_argument("--seeds", help="only these seeds, e.g. 0-1 (default: every measured one)")
    bey.add_argument("--variants", help="comma-separated (default: vqvae-wr and every guarded variant)")
    bey.add_argument("--reference", help="the claims.json whose restricted Top10 is the goal (default: "
                     "results/PRESET/claims.json)")
    bey.add_argument("--runs", help="folders of runs, comma-separated (e.g. runs/claims-laptop, a `reproduce` rerun): "
                     "draw each variant's best realistic query, read from the run that made it, beside its re-render "
                     "into RESULTS/figures/beyond_best_valid.png")
    bey.set_defaults(func=_beyond)


def _add_constraints(sub: argparse._SubParsersAction) -> None:
    con = sub.add_parser("constraints", help="write constraints.txt: the exact versions of every package installed "
                         "here for happy-utils[lab,test,gurobi,docs,ray]")
    con.set_defaults(func=_constraints)


def _add_notebooks(sub: argparse._SubParsersAction) -> None:
    nbs = sub.add_parser("notebooks", help="check (or --sync) the notebooks' Colab badges and install cells against "
                                           "happy_utils.experiments.colab and their executed copies against the "
                                           f"sources; --execute makes the copies in {EXECUTED_DIR}/")
    nbs.add_argument("--sync", action="store_true", help="rewrite the notebooks that differ")
    nbs.add_argument("--execute", action="store_true", help=f"execute every notebook (or --only) in a fresh kernel and "
                     f"write the executed copy to {EXECUTED_DIR}/ (minutes to an hour at the laptop preset)")
    nbs.add_argument("--only", nargs="+", metavar="NAME", help="with --execute: these notebooks, e.g. "
                     "05_weighted_retraining.ipynb")
    nbs.add_argument("--preset", choices=list(PRESETS), default="laptop", help="with --execute: the preset the "
                     "copies show (default: laptop)")
    nbs.add_argument("--runs-dir", help="with --execute: the notebooks' runs folder (default: a new temporary one, so "
                     "that the copies show a run from the top; give one to hand 05's run to 06 with --only)")
    nbs.set_defaults(func=_notebooks)


#: The commands, in the order `--help` lists them.
COMMANDS = (_add_run, _add_compare, _add_claims, _add_reproduce, _add_estimate, _add_bench, _add_train_oracle,
            _add_train_realism, _add_eval_quality, _add_calibrate_predictor, _add_eval_oracle, _add_pretrain,
            _add_renderer, _add_support, _add_beyond, _add_constraints, _add_notebooks)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m happy_utils", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for add in COMMANDS:
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    matplotlib.use("Agg")  # the command line draws into files only
    seed_and_style()
    try:
        args.func(args)
    except (ValueError, FileNotFoundError, JobsFailed) as err:  # RunDirError is a ValueError
        sys.exit(f"error: {err}")


if __name__ == "__main__":
    main()
