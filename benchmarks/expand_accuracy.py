"""Control vs augmented SASRec (offline policy, online views, contrastive) on Beauty/Sports/Toys.

    python benchmarks/expand_accuracy.py --quick                      # smoke check, a few minutes
    python benchmarks/expand_accuracy.py --dataset beauty --seeds 0 1 2
    python benchmarks/expand_accuracy.py --variants sasrec-bce sasrec-bce+duorec --offline-policy length_aware

P1 protocol (as reproduce_sasrec.py): leave-last-out, ranking over all items, history masked,
SASRec max length 50 / hidden 64 / 2 layers / 2 heads / dropout 0.5 / Adam 1e-3 / batch 256,
early stopping on validation NDCG@10. Augmenters see ``split.train`` only; held-out data is
never augmented. Every augmented row names its ``control`` (the same model without
augmentation, same seed) and carries a paired per-user test against it in ``extra``
(``recaug.evaluate.compare``), overall and on the short-history / cold-user segments.
Results are written after every run.

Variants: ``sasrec-bce`` / ``sasrec-ce`` (controls); ``sasrec-bce+offline`` (the
``--offline-policy`` materialised with ``expand_training``, each row its own pseudo-user);
``sasrec-bce+cl4srec-concat`` (CL4SRec InfoNCE on crop/mask/reorder views, every position's
state contrasted; ``-mean``: their mean; ``sasrec-bce+cl4srec``: the last state;
``-concat-coserec-views``: CoSeRec's view strengths); ``sasrec-ce+aug`` (online
crop/mask/reorder views with probability 0.5 + DuoRec contrastive). Extra variants for
dissection: ``sasrec-{bce,ce}+{online,cl4srec,duorec}``, ``sasrec-{bce,ce}+duorec-concat`` (DuoRec's
pairs, every position's state contrasted), ``sasrec-ce+{duorec,cl4srec-concat}-d0.2`` (at dropout
0.2, paired with the dropout-0.2 control ``sasrec-ce-d0.2``), ``sasrec-bce+{repeatpad,slice,coserec}``
(offline item-row policies) and ``sasrec-{bce,ce}+reppad`` (RepPad on input/target pairs,
``SASRec(repeat_pad=True)``; ``sasrec-bce+reppad-delim`` with a delimiter between copies).

Fine-tuned variants (``...-ft``): the model of the base variant is trained again on the real
training rows alone, starting from its weights (``fit(..., init_from=...)``, same settings and
early stopping): augmentation as pre-training. ``sasrec-{bce,ce}-ft`` give the control the same
second round; an ``-ft`` row is paired with its control *and* with that refitted control
(``extra.paired_vs_refit_control``).

Finished runs are cached under ``--cache-dir`` (row JSON + per-user Parquet, keyed by dataset,
variant, seed, every setting and the committed ``src/`` tree), so a control is trained once and
reused by later invocations of the same library code, and an interrupted benchmark resumes where
it stopped: finished runs from the cache, the run it was in from its last epoch (a training
checkpoint next to the cache entry, ``TrainConfig.checkpoint``). Nothing is cached while
``src/`` has uncommitted changes. On a machine with spare cores, ``--arms-only`` trains an arm
while its control trains in a second process; a last run without the flag pairs them from the cache.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from _cache import code_version
from _common import REPO, best_valid, dataset_file, epoch_seconds, parser, peak_memory_mb, write_result
from merge_results import pooled_key
from recaug import columns as C
from recaug.atomic import atomic_dir
from recaug.data import Interactions
from recaug.data.io import read
from recaug.evaluate import Evaluator, HistoryLength, NewUsers, RepeatTargets, compare
from recaug.evaluate.stats import pool_seeds, seed_level_test
from recaug.expand import expand_training, from_config
from recaug.models import SASRec, losses
from recaug.split import LeaveLastOut

SASREC = {"max_len": 50, "hidden": 64, "n_layers": 2, "n_heads": 2, "dropout": 0.5, "lr": 1e-3, "batch_size": 256}

#: CoSeRec / CL4SRec operations (library defaults: crop 0.6, mask 0.3, reorder 0.6)
CMR = [{"op": "crop"}, {"op": "mask"}, {"op": "reorder"}]
ONLINE = {"op": "one_of", "ops": CMR}
#: CL4SRec views with the strengths of CoSeRec's scripts (the library default is DuoRec's 0.6 / 0.3 / 0.6)
COSEREC_VIEWS = {
    "op": "one_of",
    "ops": [{"op": "crop", "eta": 0.2}, {"op": "mask", "gamma": 0.7}, {"op": "reorder", "beta": 0.2}],
}

#: offline policies for ``expand_training``: (augmenter config, n_views, keep_original)
OFFLINE: dict[str, tuple[dict[str, Any], int, bool]] = {
    # RepPad (Dang et al. 2024): fill the padding of short rows with repeats; replaces the originals
    "repeat_pad": ({"op": "repeat_pad", "max_len": SASREC["max_len"] + 1}, 1, False),
    # explicit prefix expansion (RecBole-style training instances), one row per prefix
    "slice_prefix": ({"op": "slice", "kind": "prefix", "min_len": 2, "max_len": SASREC["max_len"] + 1}, 1, False),
    # the pipeline's configs/beauty_expand.yaml policy: one of crop 0.6 / mask 0.3 / reorder 0.3, one
    # view per row next to the original (MASK stays a token here; the pipeline drops it)
    "cmr": (
        {"op": "one_of", "ops": [{"op": "crop", "eta": 0.6}, {"op": "mask", "gamma": 0.3},
                                 {"op": "reorder", "beta": 0.3}]},
        1,
        True,
    ),
    # CoSeRec-style length-aware policy: correlated insert/substitute for short rows, crop/mask/reorder
    # for longer ones; two views per row next to the original
    "length_aware": (
        {"op": "length_aware", "threshold": 4, "short": [{"op": "insert"}, {"op": "substitute"}], "long": CMR},
        2,
        True,
    ),
}

#: variant -> (control, SASRec settings, offline policy or None; "policy" = --offline-policy)
VARIANTS: dict[str, tuple[str | None, dict[str, Any], str | None]] = {
    "sasrec-bce": (None, {"loss": "bce"}, None),
    "sasrec-bce+offline": ("sasrec-bce", {"loss": "bce"}, "policy"),
    # CL4SRec contrasting the last state (DuoRec's CL4SRec), the mean, or the concatenation of all
    # positions' states (the library default, as ICLRec's/CoSeRec's instance-level loss)
    "sasrec-bce+cl4srec": ("sasrec-bce", {"loss": "bce", "contrastive": "cl4srec", "cl_representation": "last"}, None),
    "sasrec-bce+cl4srec-mean": ("sasrec-bce", {"loss": "bce", "contrastive": "cl4srec", "cl_representation": "mean"}, None),
    "sasrec-bce+cl4srec-concat": (
        "sasrec-bce", {"loss": "bce", "contrastive": "cl4srec", "cl_representation": "concat"}, None
    ),
    "sasrec-ce": (None, {"loss": "ce"}, None),
    "sasrec-ce+aug": ("sasrec-ce", {"loss": "ce", "augmenter": ONLINE, "aug_prob": 0.5, "contrastive": "duorec"}, None),
    # dissection
    "sasrec-bce+online": ("sasrec-bce", {"loss": "bce", "augmenter": ONLINE, "aug_prob": 0.5}, None),
    "sasrec-bce+duorec": ("sasrec-bce", {"loss": "bce", "contrastive": "duorec"}, None),
    "sasrec-ce+online": ("sasrec-ce", {"loss": "ce", "augmenter": ONLINE, "aug_prob": 0.5}, None),
    "sasrec-ce+cl4srec": ("sasrec-ce", {"loss": "ce", "contrastive": "cl4srec", "cl_representation": "last"}, None),
    "sasrec-ce+cl4srec-concat": (
        "sasrec-ce", {"loss": "ce", "contrastive": "cl4srec", "cl_representation": "concat"}, None
    ),
    "sasrec-ce+duorec": ("sasrec-ce", {"loss": "ce", "contrastive": "duorec"}, None),
    # DuoRec at dropout 0.2 against a dropout-0.2 control: at P1's 0.5 the two dropout views of a
    # sequence are too far apart to be asked to agree (duorec_dissection.py)
    "sasrec-ce-d0.2": (None, {"loss": "ce", "dropout": 0.2}, None),
    "sasrec-ce+duorec-d0.2": ("sasrec-ce-d0.2", {"loss": "ce", "contrastive": "duorec", "dropout": 0.2}, None),
    "sasrec-ce+cl4srec-concat-d0.2": (
        "sasrec-ce-d0.2", {"loss": "ce", "contrastive": "cl4srec", "cl_representation": "concat", "dropout": 0.2}, None
    ),
    # DuoRec's positives and negatives, contrasting every position's state as CL4SRec-concat does
    "sasrec-bce+duorec-concat": ("sasrec-bce", {"loss": "bce", "contrastive": "duorec", "cl_representation": "concat"}, None),
    "sasrec-ce+duorec-concat": ("sasrec-ce", {"loss": "ce", "contrastive": "duorec", "cl_representation": "concat"}, None),
    "sasrec-bce+repeatpad": ("sasrec-bce", {"loss": "bce"}, "repeat_pad"),
    # RepPad on (input, target) pairs inside training (recaug.models.reppad), random repeats per epoch;
    # back to back as in the paper's headline runs, or with a PAD pair between copies ("-delim")
    "sasrec-bce+reppad": ("sasrec-bce", {"loss": "bce", "repeat_pad": True}, None),
    "sasrec-bce+reppad-delim": ("sasrec-bce", {"loss": "bce", "repeat_pad": True, "repeat_pad_delimiter": True}, None),
    "sasrec-ce+reppad": ("sasrec-ce", {"loss": "ce", "repeat_pad": True}, None),
    "sasrec-bce+slice": ("sasrec-bce", {"loss": "bce"}, "slice_prefix"),
    "sasrec-bce+coserec": ("sasrec-bce", {"loss": "bce"}, "length_aware"),
    "sasrec-bce+cmr": ("sasrec-bce", {"loss": "bce"}, "cmr"),
}
# CL4SRec (concat) with CoSeRec's scripts' view strengths (crop 0.2 / mask 0.7 / reorder 0.2)
VARIANTS["sasrec-bce+cl4srec-concat-coserec-views"] = (
    "sasrec-bce", {**VARIANTS["sasrec-bce+cl4srec-concat"][1], "cl_augmenter": COSEREC_VIEWS}, None
)
#: fine-tuned variants: the base variant's model, trained again on the real rows from its weights
for _base in ("sasrec-bce", "sasrec-ce", "sasrec-bce+offline", "sasrec-bce+cl4srec", "sasrec-ce+aug",
              "sasrec-bce+coserec", "sasrec-bce+reppad"):
    _control, _settings, _offline = VARIANTS[_base]
    VARIANTS[f"{_base}-ft"] = (_control or _base, _settings, _offline)
REFIT_CONTROL = {f"{v}-ft": f"{c}-ft" for v, (c, _, _) in VARIANTS.items() if c and f"{v}-ft" in VARIANTS}
DEFAULT_VARIANTS = ["sasrec-bce", "sasrec-bce+offline", "sasrec-bce+cl4srec-concat", "sasrec-ce", "sasrec-ce+aug"]

#: evaluation segments: history-length buckets (short = at most 5 items) and cold users (at most 4
#: items before the target: users with the 5-core minimum of 5 interactions)
SEGMENTS = [HistoryLength((5, 10, 20)), NewUsers(max_history=4, name="cold_users"), RepeatTargets()]
PAIRED_SEGMENTS = ("history<=5", "cold_users")
PAIRED_METRICS = ("HR@10", "NDCG@10")


def subsample(interactions: Interactions, n_users: int, seed: int) -> Interactions:
    """Interactions of ``n_users`` random users (quick runs only)."""
    users = np.unique(interactions.users)
    if len(users) <= n_users:
        return interactions
    keep = np.random.default_rng(seed).choice(users, n_users, replace=False)
    return interactions.filter(pl.col(C.USER).is_in(keep.tolist()))


def paired(control: pl.DataFrame, treatment: pl.DataFrame) -> dict[str, Any]:
    """Paired per-user tests, overall and per segment of :data:`PAIRED_SEGMENTS` (per-user frames)."""
    out: dict[str, Any] = {"all": {m: c.to_dict() for m, c in compare(control, treatment, PAIRED_METRICS).items()}}
    for seg in PAIRED_SEGMENTS:
        col = f"segment:{seg}"
        if col not in control.columns:
            continue
        a = control.filter(pl.col(col))
        b = treatment.filter(pl.col(col))
        if len(a) >= 2:
            out[seg] = {m: c.to_dict() for m, c in compare(a, b, PAIRED_METRICS).items()}
    return out


def pooled(ctx: dict[str, Any], variants: list[str], seeds: list[int]) -> list[dict[str, Any]]:
    """For each variant with a control and two or more seeds in ``ctx["evals"]``: :func:`paired`
    on the seed-averaged per-user metrics of arm and control (``recaug.evaluate.stats.pool_seeds``)."""
    out = []
    for variant in variants:
        control = VARIANTS[variant][0]
        both = [s for s in seeds if (variant, s) in ctx["evals"] and (control, s) in ctx["evals"]]
        if control is None or len(both) < 2:
            continue
        ctl = pool_seeds([ctx["evals"][(control, s)] for s in both])
        arm = pool_seeds([ctx["evals"][(variant, s)] for s in both])
        out.append({"dataset": ctx["name"], "variant": variant, "control": control, "seeds": both,
                     "paired_vs_control": paired(ctl, arm)})
    return out


def cache_path(args: Any, name: str, variant: str, seed: int, params: dict[str, Any]) -> Path | None:
    """Where a finished run is cached: a hash of everything that determines its result.

    The model's full ``config()`` (every default included) and the library code
    (``_cache.code_version``: git's hash of the committed ``src/`` tree) are hashed, so a changed
    default or a changed library never reuses a stale run. ``None`` (no caching) while ``src/``
    has uncommitted changes.
    """
    if args.code is None:
        return None
    _, _, offline = VARIANTS[variant]
    policy = args.offline_policy if offline == "policy" else offline
    config = SASRec(seed=seed, device=args.device, **params).config()
    key = {"dataset": name, "variant": variant, "seed": seed, "params": config, "device": args.device,
           "offline": OFFLINE.get(policy) if policy else None, "quick": args.quick,
           "quick_users": args.quick_users if args.quick else None, "users": args.users, "code": args.code}
    digest = hashlib.sha1(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return Path(args.cache_dir) / f"{name}_{variant}_{seed}_{digest}"


def run_one(ctx: dict[str, Any], variant: str, seed: int, args: Any) -> tuple[dict[str, Any], pl.DataFrame]:
    """Fit and evaluate one variant under one seed (or load it from the cache).

    Returns the result row and the per-user frame.
    """
    control, settings, offline = VARIANTS[variant]
    params = {**SASREC, **settings}
    params.update(epochs=args.epochs, patience=args.patience, threads=args.threads, eval_every=args.eval_every,
                  valid_from=args.valid_from)
    if args.quick:
        params.update(epochs=min(args.epochs, 3), valid_from=min(args.valid_from, 3))
    cached = cache_path(args, ctx["name"], variant, seed, params)
    if cached is not None and (cached / "row.json").exists():
        row = json.loads((cached / "row.json").read_text())
        per_user = pl.read_parquet(cached / "per_user.parquet")
        print(f"(cached: {cached.name})", flush=True)
    else:
        checkpoint = None if cached is None else cached.with_name(cached.name + ".ckpt")
        row, per_user = train_eval(ctx, variant, seed, args, params, checkpoint)
        if cached is not None:
            with atomic_dir(cached, force=True) as tmp:
                per_user.write_parquet(tmp / "per_user.parquet")
                (tmp / "row.json").write_text(json.dumps(row, default=str))
    ctl = ctx["evals"].get((control, seed)) if control else None
    if control and ctl is not None:
        row["extra"]["paired_vs_control"] = paired(ctl, per_user)
    refit = ctx["evals"].get((REFIT_CONTROL.get(variant), seed))
    if refit is not None:
        row["extra"]["paired_vs_refit_control"] = paired(refit, per_user)
    return row, per_user


def train_eval(
    ctx: dict[str, Any], variant: str, seed: int, args: Any, params: dict[str, Any], checkpoint: Path | None = None
) -> tuple[dict[str, Any], pl.DataFrame]:
    """Fit and evaluate one variant under one seed; returns the result row and the per-user frame.

    ``checkpoint``: where training saves its state after every epoch, so a killed run of the
    same command continues from there (the run's cache key plus ``.ckpt``).
    """
    control, _, offline = VARIANTS[variant]
    split, item_space = ctx["split"], ctx["item_space"]
    resume = {} if checkpoint is None else {"checkpoint": str(checkpoint)}
    model = SASRec(seed=seed, device=args.device, **params, **resume)
    extra: dict[str, Any] = {}
    sequences = None
    t0 = time.perf_counter()
    if offline is not None:
        policy = args.offline_policy if offline == "policy" else offline
        config, n_views, keep = OFFLINE[policy]
        expanded = expand_training(split.train, from_config(config), n_views=n_views, seed=seed, keep_original=keep)
        sequences = expanded
        extra["offline"] = {"policy": policy, **expanded.provenance, "rows": len(expanded),
                            "augmented_rows": int((expanded.view > 0).sum())}
        extra["seconds_expand"] = time.perf_counter() - t0
    model.fit(split.train, split.valid, item_space=item_space, sequences=sequences)
    if variant.endswith("-ft"):  # then a second round on the real rows alone, from these weights
        first = model
        extra["pretrain"] = {"epochs_run": len([h for h in first.history_ if "seconds" in h]),
                             "best_epoch": first.best_epoch_, "seconds": time.perf_counter() - t0}
        augmentation = set(VARIANTS[variant][1]) - {"loss"}  # the variant's own settings but the loss
        tuned = {k: v for k, v in params.items() if k not in augmentation}
        resume = {} if checkpoint is None else {"checkpoint": f"{checkpoint}.ft"}
        model = SASRec(seed=seed, device=args.device, **tuned, **resume)
        model.fit(split.train, split.valid, item_space=item_space, init_from=first)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = Evaluator(ks=(5, 10, 20)).evaluate(model, split, "test", SEGMENTS)
    eval_s = time.perf_counter() - t0
    timing = epoch_seconds(model.history_)
    segments = {
        seg: {"n_users": v["n_users"], **{k: v["metrics"][k] for k in PAIRED_METRICS}}
        for seg, v in result.by_segment().items()
    }
    row = {
        "dataset": ctx["name"],
        "variant": variant,
        "control": control,
        "seed": seed,
        "metrics": result.summary(),
        "segments": segments,
        "seconds": {"fit": fit_s, "per_epoch": timing["per_epoch"], "epochs_total": timing["epochs_total"],
                    "evaluate": eval_s},
        "peak_memory_mb": peak_memory_mb(),
        "extra": {
            **extra,
            "params": model.config(),
            "epochs_run": timing["epochs_run"],
            "best_epoch": model.best_epoch_,
            # validation only: what a default or a policy may be chosen on (never the test metrics)
            "best_valid": best_valid(model.history_),
            "valid_metric": model.train_config.valid_metric,
            "train_users": int(split.train.n_users),
            "train_rows": len(sequences) if sequences is not None else int(split.train.n_users),
            "ce_chunked_above": losses.CHUNKED_ABOVE,  # 0: --chunked-ce
        },
    }
    return row, result.per_user


def ordered(variants: list[str]) -> list[str]:
    """Requested variants with their controls (and refitted controls) added, controls first."""
    need = list(dict.fromkeys(
        v for name in variants for v in (VARIANTS[name][0], REFIT_CONTROL.get(name), name) if v
    ))  # fmt: skip
    return sorted(need, key=lambda v: (VARIANTS[v][0] is not None and v not in REFIT_CONTROL.values()))


def main() -> None:
    """Run the comparison and write the JSON."""
    p = parser(__doc__.splitlines()[0], default_out="expand_accuracy.json")
    p.add_argument("--dataset", nargs="+", default=["beauty", "sports", "toys"], choices=["beauty", "sports", "toys"])
    p.add_argument("--variants", nargs="+", default=DEFAULT_VARIANTS, choices=sorted(VARIANTS))
    p.add_argument("--offline-policy", default="repeat_pad", choices=sorted(OFFLINE),
                   help="policy behind sasrec-bce+offline")
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--patience", type=int, default=10, help="validation rounds without improvement")
    p.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on a shared 2-core machine)")
    p.add_argument("--eval-every", type=int, default=1, help="validate every N epochs (patience counts validations)")
    p.add_argument("--valid-from", type=int, default=1,
                   help="first validated epoch, for every variant (RepPad's star_valid is 200)")
    p.add_argument("--quick-users", type=int, default=3000, help="users kept per dataset with --quick")
    p.add_argument("--users", type=int, default=None,
                   help="keep this many random users (full schedule; for cheap validation-only choices)")
    p.add_argument("--cache-dir", type=Path, default=Path(__file__).resolve().parent / ".cache",
                   help="finished runs (reused as controls, and to resume)")
    p.add_argument("--arms-only", action="store_true",
                   help="train only the listed variants, not their controls: run the controls in another "
                        "process against the same --cache-dir, then once more without this flag to pair them")
    p.add_argument("--chunked-ce", action="store_true",
                   help="always use the chunked CE loss on CPU (faster when other processes share the cores; "
                        "same losses to 5 decimals, see ce_loss_speed.py)")
    args = p.parse_args()
    args.code = code_version(REPO)
    if args.chunked_ce:
        losses.CHUNKED_ABOVE = 0
    seeds = args.seeds[:1] if args.quick else args.seeds
    variants = list(dict.fromkeys(args.variants)) if args.arms_only else ordered(args.variants)
    results: list[dict[str, Any]] = []
    pooled_rows: list[dict[str, Any]] = []
    if args.out.exists():  # keep earlier runs of other datasets/variants
        try:
            old = json.loads(args.out.read_text())
            if old.get("quick") == args.quick:
                results, pooled_rows = old.get("results", []), old.get("pooled", [])
        except (json.JSONDecodeError, OSError):
            results, pooled_rows = [], []
    protocol = {"split": "leave_last_out", "candidates": "all_items", "history_masking": "-inf", "ties": "pessimistic",
                "max_len": SASREC["max_len"], "metrics": ["HR@5", "HR@10", "HR@20", "NDCG@5", "NDCG@10", "NDCG@20"],
                "early_stopping": f"valid NDCG@10 every {args.eval_every} epoch(s) from epoch {args.valid_from}, "
                                  f"patience {args.patience} validations",
                "augmentation_fit_on": "split.train", "paired_test": "per-user, vs same-seed control",
                "segments": [s.describe() for s in SEGMENTS], "offline_policy": args.offline_policy,
                "quick_users": args.quick_users if args.quick else None, "users": args.users,
                "repeats": Evaluator().repeats}
    for ds_name in args.dataset:
        dataset = read(dataset_file(args.data_root, ds_name), format="s3rec")
        interactions = dataset.interactions
        if args.quick:
            interactions = subsample(interactions, args.quick_users, 0)
        elif args.users:
            interactions = subsample(interactions, args.users, 0)
        split = LeaveLastOut(n_valid=1, n_test=1).split(interactions)
        # a user subset is another dataset: its rows must never sit in the full dataset's tables
        name = f"{ds_name} ({args.users:,} users)" if args.users and not args.quick else ds_name
        ctx = {"name": name, "split": split, "item_space": dataset.vocab.item_space, "evals": {}}
        for seed in seeds:
            for variant in variants:
                row, result = run_one(ctx, variant, seed, args)
                ctx["evals"][(variant, seed)] = result
                results = [r for r in results
                           if not (r["dataset"] == ds_name and r["variant"] == variant and r["seed"] == seed)]
                results.append(row)
                write_result(args.out, "expand_accuracy", results, quick=args.quick, protocol=protocol,
                             device=args.device, extra={"pooled": pooled_rows})
                m = row["metrics"]
                lift = ""
                pv = row["extra"].get("paired_vs_control", {}).get("all", {}).get("NDCG@10")
                if pv:
                    lift = f" vs {row['control']}: {pv['relative_lift']:+.1%} (p={pv['wilcoxon_pvalue']:.3f})"
                total = row["seconds"].get("epochs_total")  # absent from runs cached before it existed
                legs = "" if total is None else f" (all legs {total:.0f}s)"
                print(f"{ds_name:7s} {variant:20s} seed={seed} HR@10={m['HR@10']:.4f} NDCG@10={m['NDCG@10']:.4f} "
                      f"fit={row['seconds']['fit']:.0f}s{legs} "
                      f"epochs={row['extra']['epochs_run']} "
                      f"per_epoch={row['seconds']['per_epoch'] or 0:.1f}s{lift}", flush=True)
        new = pooled(ctx, variants, seeds)
        done = {pooled_key(entry) for entry in new}
        pooled_rows = [entry for entry in pooled_rows if pooled_key(entry) not in done] + new
        write_result(args.out, "expand_accuracy", results, quick=args.quick, protocol=protocol, device=args.device,
                     extra={"pooled": pooled_rows})
        for entry in new:
            c = entry["paired_vs_control"]["all"]["NDCG@10"]
            seed = seed_level_test(control=[ctx["evals"][(entry["control"], s)] for s in entry["seeds"]],
                                   treatment=[ctx["evals"][(entry["variant"], s)] for s in entry["seeds"]])
            level = seed.reason if seed.pvalue is None else f"{seed.mean_lift:+.1%} (p={seed.pvalue:.3g})"
            print(f"{ds_name:7s} {entry['variant']:20s} seeds {','.join(map(str, entry['seeds']))} pooled per user: "
                  f"{c['relative_lift']:+.1%} (p={c['wilcoxon_pvalue']:.3g}); seed level: {level}", flush=True)


if __name__ == "__main__":
    main()
