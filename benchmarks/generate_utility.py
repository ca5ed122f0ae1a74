"""Generate-stage utility on Beauty (P1): control vs + VAE / + GAN completion vs + sequence extension.

    python benchmarks/generate_utility.py --quick
    python benchmarks/generate_utility.py --models bpr multvae sasrec --seeds 0 1 2

Per seed, every synthesizer is fitted on ``split.train`` only and completes the short users
(at most ``--short`` training interactions) with ``--k`` items each; the rows are fused with
``Fuser(only_users_with_at_most=short, allow_new_users=False)`` (prepended before each user's
history, ASReP style). Every model is trained on the fused data and evaluated with full ranking
on the same test items, with the same real histories as input and mask, as its control (same
model, same seed, no synthetic rows). Models that read the history also get a ``-in`` row: the
completed histories as input at test time, the real ones still the mask. Until stop 14 the
completed histories were input *and* mask; that flattered every augmented arm (the synthetic
items left after dropping held-out hits are known-wrong guesses, and masking them moves the
test item up), so each main row keeps that old evaluation, for the treated and the untouched
control model, under ``extra.masked_synthetic``. Segments are fixed on the *real* data so that the
arms are comparable: ``train<=K`` (users with at most K real training interactions) and, where
the dataset has item categories (not Toys), ``cross_category`` (a test item's category is not
among the categories of the user's real history). Paired tests (``recaug.evaluate.compare``) are over users, per segment.

Synthetic rows that happen to equal a user's held-out item are, by default, dropped before
fusion (``--held-out-hits drop``), so the fuser's leakage assertion holds; the count is
reported. This can only make the augmented arms look worse. ``keep`` keeps them (the
synthesizers never saw held-out data; the rows are their predictions) and fuses without the
assertion.

ASReP arm (``--asrep``): ASReP fine-tunes the transformer it pre-trained on reversed sequences
on the extended data instead of training from scratch; with the flag, the ``sequence``
synthesizer adds an arm ``sasrec+sequence-asrep``: SASRec on the fused data, starting from the
synthesizer's reversed SASRec (``fit(..., init_from=synth.model_)``; same settings).

Fine-tuned arms (``--finetune-real``): for the sequential models, the model trained on the
fused data is then trained again on the real training rows alone, starting from its weights
(``fit(..., init_from=...)``, same settings and early stopping): arm ``+vae-t0-ft`` etc. The
synthetic rows then shape the item embeddings without being the context the final model last
learned from (SASRec on fused data loses to its control under the honest protocol). A second
round of training is itself a treatment (a fresh optimiser, more epochs), so the control gets
it too: row ``sasrec-ft`` is the control trained again on the real rows from its own weights;
compare ``+vae-t0-ft`` with it as well as with the control.

Cache (``--cache DIR``): controls and synthesizers are keyed by their settings, a digest of
the data file and git's hash of the committed ``src/`` tree (``_cache.code_version``).

Weighted arms (``--synthetic-weight W``): the fuser gives synthetic rows ``weight = W`` (real
rows 1.0); BPR-MF, Mult-VAE (and Popularity, ItemKNN) scale each row's share of the loss by
it, SASRec ignores it (and says so). Arms are then named ``+vae-w0.3`` etc.

Greedy arms (``--complete-temperature T``): the synthesizers draw completions from
``softmax(scores / T)`` (every synthesizer's ``complete_temperature``; the default since stop 12
is 0 for all three); ``T = 0`` takes the most likely items (the VAE decodes the posterior mean).
Arms are then named ``+vae-t0`` etc. ``held_out_hits`` is reported split into validation and
test hits, a direct measure of how plausible the completions are.

Gated arms (``--complete-min-prob P``, VAE and GAN only): completions keep only the items the
synthesizer gives at least probability ``P`` (``complete_min_prob``), so users it is unsure
about get fewer items or none. The gate is set on the fitted synthesizer (it does not change
the fit, and the cache reuses one fit for every ``P``). Arms are then named ``+vae-t0-p0.03``.

Quality: each fitted synthesizer also samples new users (as many as ``--quality-users``) and
``QualityReport.compute`` compares them with the real training users.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from _cache import checkpoint_file, code_version, file_digest, fitted
from _common import REPO, dataset_file, epoch_seconds, parser, peak_memory_mb, write_result
from recaug import columns as C
from recaug.data import Interactions
from recaug.data.io import read
from recaug.evaluate import (
    CrossCategory,
    Evaluator,
    UserColumn,
    WithInputHistories,
    compare,
    held_out_histories,
)
from recaug.evaluate.segments import SegmentContext
from recaug.fuse import Fuser
from recaug.generate import Synthesizer, from_config
from recaug.models import Recommender, get_model_class
from recaug.models.checkpoint import data_key
from recaug.quality import QualityReport
from recaug.split import LeaveLastOut, Split

SYNTHS: dict[str, dict[str, Any]] = {
    "vae": {"method": "vae"},
    "gan": {"method": "gan"},
    "sequence": {"method": "sequence", "direction": "backward"},
}
MODELS: dict[str, tuple[str, dict[str, Any]]] = {
    "pop": ("pop", {}),
    "itemknn": ("itemknn", {}),
    "bpr": ("bpr", {}),
    "multvae": ("multvae", {}),
    "gru4rec": ("gru4rec", {}),
    "sasrec": (
        "sasrec",
        {"max_len": 50, "hidden": 64, "n_layers": 2, "n_heads": 2, "dropout": 0.5, "loss": "bce"},
    ),
}
HEAD = ("HR@10", "NDCG@10")
#: models whose scores depend on the input history (they get a test-time completion ``-in`` row)
READS_HISTORY = {"itemknn", "multvae", "gru4rec", "sasrec"}
FINETUNABLE = {"gru4rec", "sasrec"}  # fit(..., init_from=) exists for the sequential models


def fixed_segments(split: Split, dataset: Any, short: int) -> tuple[pl.DataFrame, list[Any]]:
    """Per-user segment table computed on the real data, and the rules that read it."""
    n_train = split.train.frame.group_by(C.USER).len()
    hist, t_off, t_items = held_out_histories(split, "test")
    users = pl.DataFrame({C.USER: hist.users})
    table = (
        users.join(n_train, on=C.USER, how="left")
        .with_columns((pl.col("len").fill_null(0) <= short).alias(f"train<={short}"))
        .drop("len")
    )
    rules = [UserColumn(table, f"train<={short}")]
    if dataset.item_categories() is not None:  # Toys has attribute ids but no categories
        ctx = SegmentContext(users, hist, t_off, t_items)
        cross = CrossCategory(dataset).assign(ctx)["cross_category"]
        table = table.with_columns(pl.Series("cross_category", cross))
        rules.append(UserColumn(table, "cross_category"))
    return table, rules


def run_settings(args: Any, seed: int) -> dict[str, Any]:
    """What decides a control's or a synthesizer's fit besides its own settings (the cache key)."""
    return {"dataset": args.dataset, "data_digest": args.data_digest, "seed": seed, "quick": args.quick,
            "quick_users": args.quick_users if args.quick else None, "epochs": args.epochs,
            "patience": args.patience, "eval_every": args.eval_every, "threads": args.threads,
            "device": args.device}  # fmt: skip


MODEL_TRAINING = ("epochs", "patience", "eval_every")  # how the recommenders train: no synthesizer reads them


def synth_settings(args: Any, seed: int) -> dict[str, Any]:
    """:func:`run_settings` without the recommenders' training settings: a synthesizer fitted for a
    run with another patience is the same synthesizer (the cache reuses it)."""
    return {k: v for k, v in run_settings(args, seed).items() if k not in MODEL_TRAINING}


def fitted_synthesizer(
    args: Any, cfg: dict[str, Any], seed: int, train: Interactions, dataset: Any, code: str | None
) -> tuple[Synthesizer, dict[str, Any], bool]:
    """``(synthesizer, meta, from_cache)``: ``cfg`` fitted on ``train``, from ``args.cache`` when
    there (keyed by :func:`synth_settings` and ``cfg``); shared with ``completion_gate.py``."""

    settings = {**synth_settings(args, seed), "config": cfg}
    checkpoint = checkpoint_file(args.cache, "synthesizer", settings, code)

    def fit() -> tuple[Synthesizer, dict[str, float]]:
        t0 = time.perf_counter()
        resume = {} if checkpoint is None else {"checkpoint": str(checkpoint)}
        synth = from_config({**cfg, **resume}).fit(train, item_space=dataset.vocab.item_space, items=dataset.items)
        return synth, {"fit": time.perf_counter() - t0}

    return fitted(args.cache, "synthesizer", settings, code, fit, Synthesizer.load)


def fit_model(
    model_name: str, train: Interactions, split: Split, seed: int, args: Any, item_space: int,
    init_from: Any | None = None, checkpoint: dict[str, Any] | None = None,
) -> tuple[Any, dict[str, float]]:
    """Fit one model on ``train`` (validation = split.valid, early stopping on it).

    ``checkpoint``: what names this fit besides the model, the run settings and the training
    rows (e.g. its arm); with ``--cache`` the fit then saves its state after every epoch there
    and a killed run continues it.
    """
    name, params = MODELS[model_name]
    params = dict(params)
    if name not in ("pop", "itemknn"):
        params.update(epochs=args.epochs, patience=args.patience, threads=args.threads, progress=False,
                      eval_every=args.eval_every)
        if checkpoint is not None:
            what = {**run_settings(args, seed), "model": model_name, "params": MODELS[model_name],
                    "data": data_key(train, split.valid), **checkpoint}  # fmt: skip
            path = checkpoint_file(args.cache, "fit", what, args.code)
            if path is not None:
                params["checkpoint"] = str(path)
    model = get_model_class(name)(seed=seed, device=args.device, **params)
    t0 = time.perf_counter()
    if init_from is None:
        model.fit(train, split.valid, item_space=item_space)
    else:
        model.fit(train, split.valid, item_space=item_space, init_from=init_from)
    fit_s = time.perf_counter() - t0
    best = getattr(model, "best_epoch_", None)
    return model, {"fit": fit_s, **epoch_seconds(getattr(model, "history_", None)), "best_epoch": best}


def evaluate_test(model: Any, split: Split, rules: list[Any], secs: dict[str, float]) -> Any:
    """Full ranking on ``split.test`` with ``split``'s histories; adds ``secs["evaluate"]``."""
    t0 = time.perf_counter()
    result = Evaluator(ks=(5, 10, 20)).evaluate(model, split, "test", segments=rules)
    secs["evaluate"] = time.perf_counter() - t0
    return result


def synth_epochs(specs: list[str], names: list[str], cap: int | None) -> dict[str, int]:
    """``["30", "gan=5"]`` -> epochs per synthesizer (a bare number applies to all)."""
    out: dict[str, int] = {}
    for spec in specs:
        name, _, value = spec.rpartition("=")
        if (name and name not in SYNTHS) or not value.isdigit():
            raise SystemExit(f"--synth-epochs {spec!r}: expected N or NAME=N with NAME in {list(SYNTHS)}")
        for n in [name] if name else names:
            out[n] = int(value)
    missing = [n for n in names if n not in out]
    if missing:
        raise SystemExit(f"--synth-epochs gives no epochs for {missing}")
    return {n: min(e, cap) if cap else e for n, e in out.items()}


def paired(control: Any, treated: Any, segs: list[str]) -> dict[str, Any]:
    """Paired user-level tests vs control overall and per segment."""
    out = {"all": {m: c.to_dict() for m, c in compare(control, treated, list(HEAD)).items()}}
    for seg in segs:
        out[seg] = paired_where(control, treated, pl.col("segment:" + seg))
    return out


def paired_where(control: Any, treated: Any, keep: pl.Expr) -> dict[str, Any]:
    """Paired user-level tests vs control on the users ``keep`` selects (empty dict: none)."""
    a, b = control.per_user.filter(keep), treated.per_user.filter(keep)
    return {m: c.to_dict() for m, c in compare(a, b, list(HEAD)).items()} if a.height else {}


def by_test_hit(control: Any, treated: Any, hit_users: pl.Series) -> dict[str, Any]:
    """The lift split between users whose completions held their test item and the others."""
    hit = pl.col(C.USER).is_in(hit_users)
    return {"users_with_test_hit": paired_where(control, treated, hit),
            "other_users": paired_where(control, treated, ~hit)}  # fmt: skip


def main() -> None:
    """Run the benchmark and write the JSON."""
    p = parser(__doc__.splitlines()[0], default_out="generate_utility.json")
    p.add_argument("--dataset", default="beauty", choices=["beauty", "sports", "toys"])
    p.add_argument("--models", nargs="+", default=["bpr", "multvae", "sasrec"], choices=sorted(MODELS))
    p.add_argument("--synthesizers", nargs="+", default=list(SYNTHS), choices=list(SYNTHS))
    p.add_argument("--k", type=int, default=5, help="items added to every short user")
    p.add_argument(
        "--short", type=int, default=5, help="short user = at most this many training interactions"
    )
    p.add_argument("--epochs", type=int, default=200, help="model epochs (early stopping on valid NDCG@10)")
    p.add_argument("--patience", type=int, default=10)
    p.add_argument("--eval-every", type=int, default=1, help="validate every N epochs (patience counts validations)")
    p.add_argument("--synth-epochs", nargs="+", default=["30", "gan=5"], metavar="[NAME=]N",
                   help="synthesizer epochs: N for all, NAME=N for one (default: 30, and 5 for the GAN, its own "
                        "default: longer GAN training collapses)")
    p.add_argument("--synth-holdout", type=int, default=0,
                   help="VAE/GAN: pick the epoch (at most --synth-epochs) on this many held-back training users")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--quality-users", type=int, default=5000)
    p.add_argument("--asrep", action="store_true",
                   help="also fine-tune SASRec from the sequence synthesizer's reversed SASRec (ASReP)")
    p.add_argument("--synthetic-weight", type=float, default=None,
                   help="weight column of synthetic rows (real rows 1.0); default: no weight column")
    p.add_argument("--complete-temperature", type=float, default=None,
                   help="completion temperature of every synthesizer (0 = most likely items); default: theirs")
    p.add_argument("--complete-min-prob", type=float, default=None,
                   help="VAE/GAN completions keep only items with at least this probability; default: all k")
    p.add_argument("--held-out-hits", choices=["drop", "keep"], default="drop")
    p.add_argument("--quick-users", type=int, default=2000, help="--quick: users kept (lowest codes)")
    p.add_argument("--cache", type=Path, default=None,
                   help="reuse fitted controls and synthesizers from this folder across runs (keyed by "
                        "their settings, the data file and the committed src/ tree; off while src/ has "
                        "uncommitted changes)")
    p.add_argument("--finetune-real", action="store_true",
                   help="sequential models: also an arm '...-ft' that fine-tunes the model trained on the "
                        "fused data on the real training data alone (same settings, early stopping)")
    args = p.parse_args()
    seeds = args.seeds[:1] if args.quick else args.seeds
    if args.quick:
        args.epochs, args.quality_users = min(args.epochs, 3), 1000

    epochs = synth_epochs(args.synth_epochs, args.synthesizers, cap=3 if args.quick else None)
    if args.complete_min_prob is not None and "sequence" in args.synthesizers:
        raise SystemExit("--complete-min-prob applies to the VAE and the GAN only; drop 'sequence'")
    if args.complete_min_prob is not None and not 0.0 <= args.complete_min_prob < 1.0:
        raise SystemExit(f"--complete-min-prob must be in [0, 1), got {args.complete_min_prob}")
    data_path = dataset_file(args.data_root, args.dataset)
    args.data_digest = file_digest(data_path)
    code = args.code = code_version(REPO) if args.cache else None
    if args.cache and code is None:
        print("--cache: src/ has uncommitted changes (or no git); fitting everything afresh", flush=True)
    dataset = read(data_path, format="s3rec")
    inter = dataset.interactions
    if args.quick:
        inter = inter.filter(pl.col(C.USER) < args.quick_users)
    split = LeaveLastOut(n_valid=1, n_test=1).split(inter)
    item_space = dataset.vocab.item_space
    table, rules = fixed_segments(split, dataset, args.short)
    seg_names = [c for c in table.columns if c != C.USER]
    short_users = table.filter(pl.col(seg_names[0])).get_column(C.USER)
    short_hist = split.train.filter(pl.col(C.USER).is_in(short_users.implode()))
    held = split.held_out()
    print(f"{args.dataset}: {split}; short users {len(short_users)} / {table.height}", flush=True)

    protocol = {
        "split": "leave_last_out", "candidates": "all_items", "history_masking": "-inf", "ties": "pessimistic",
        "metrics": ["HR@5", "HR@10", "HR@20", "NDCG@5", "NDCG@10", "NDCG@20"], "k": args.k,
        "short_users": f"<= {args.short} training interactions", "fuse": "prepend, only short users",
        "held_out_hits": args.held_out_hits, "segments": "fixed on the real data",
        "synthetic_weight": args.synthetic_weight,
        "complete_temperature": "synthesizer default" if args.complete_temperature is None else args.complete_temperature,
        "early_stopping": f"valid NDCG@10 every {args.eval_every} epoch(s), patience {args.patience} validations",
        "test_history": "real histories as input and mask, as for the control ('-in' rows: completed "
                        "histories as input, real ones masked); validation on real histories",
    }  # fmt: skip
    if args.epochs != 200:  # recorded only off the default, so earlier result files stay mergeable
        protocol["max_epochs"] = args.epochs
    results: list[dict[str, Any]] = []
    for seed in seeds:
        controls: dict[str, Any] = {}
        control_models: dict[str, Any] = {}
        refit_controls: dict[str, Any] = {}  # --finetune-real: the control trained a second round
        for m in args.models:
            model, secs, hit = fitted(
                args.cache, "control", {**run_settings(args, seed), "model": m, "params": MODELS[m]}, code,
                lambda m=m, seed=seed: fit_model(m, split.train, split, seed, args, item_space, checkpoint={}),
                Recommender.load,
            )  # fmt: skip
            res = evaluate_test(model, split, rules, secs)
            controls[m] = res
            control_models[m] = model
            results.append(_row(args, m, "control", None, seed, res, secs, {"from_cache": hit}))
            _print(results[-1])
            if args.finetune_real and m in FINETUNABLE:  # the same second round without synthetic rows
                again, again_secs = fit_model(m, split.train, split, seed, args, item_space, init_from=model,
                                              checkpoint={"arm": "control-ft"})
                again_res = evaluate_test(again, split, rules, again_secs)
                refit_controls[m] = again_res
                results.append(_row(args, m, "-ft", "control", seed, again_res, again_secs,
                                    {"paired_vs_control": paired(res, again_res, seg_names),
                                     "pretrain_on_fused": None}))  # fmt: skip
                _print(results[-1])
            write_result(args.out, "generate_utility", results, quick=args.quick, protocol=protocol,
                         device=args.device)  # fmt: skip
        for s_name in args.synthesizers:
            cfg = {**SYNTHS[s_name], "epochs": epochs[s_name], "seed": seed, "device": args.device,
                   "threads": args.threads, "progress": False}  # fmt: skip
            if args.complete_temperature is not None:
                cfg["complete_temperature"] = args.complete_temperature
            if args.synth_holdout and s_name in ("vae", "gan"):
                cfg["holdout_users"] = args.synth_holdout
            synth, synth_meta, synth_hit = fitted_synthesizer(args, cfg, seed, split.train, dataset, code)
            synth_fit = synth_meta["fit"]
            if args.complete_min_prob is not None:  # a completion setting: the fit stays the same
                synth.complete_min_prob = args.complete_min_prob
            t0 = time.perf_counter()
            synthetic = synth.complete(short_hist, args.k, seed=seed)
            complete_s = time.perf_counter() - t0
            hits = synthetic.frame.join(held, on=[C.USER, C.ITEM], how="semi").height
            # users among whose completions is their own test item (dropped or kept): the lift is
            # also split by them, to show how much of it these correct guesses carry
            test_hit_users = synthetic.frame.join(split.test.frame, on=[C.USER, C.ITEM], how="semi").get_column(C.USER)
            valid_hits = synthetic.frame.join(split.valid.frame, on=[C.USER, C.ITEM], how="semi").height
            if args.held_out_hits == "drop":
                synthetic = Interactions(synthetic.frame.join(held, on=[C.USER, C.ITEM], how="anti"))
            # after the drop above, "error" asserts that no held-out pair is left (as before keep became the default)
            fuser = Fuser(only_users_with_at_most=args.short, allow_new_users=False, seed=seed,
                          weight=args.synthetic_weight, held_out_hits="error")
            arm = f"+{s_name}" + (f"-w{args.synthetic_weight:g}" if args.synthetic_weight is not None else "")
            arm += f"-t{args.complete_temperature:g}" if args.complete_temperature is not None else ""
            arm += "-h" if "holdout_users" in cfg else ""
            arm += f"-p{args.complete_min_prob:g}" if args.complete_min_prob is not None else ""
            fused, report = fuser.fuse(
                split.train, synthetic, split=split if args.held_out_hits == "drop" else None
            )
            t0 = time.perf_counter()
            new_users = synth.sample(min(args.quality_users, short_users.len() or 1), seed=seed)
            sample_s = time.perf_counter() - t0
            quality = QualityReport.compute(split.train, new_users, items=dataset.items, seed=seed)
            extra = {
                "synthesizer": cfg, "loss_history": synth.loss_history_[-3:],
                "synth_best_epoch": getattr(synth, "best_epoch_", None),
                "synthetic_rows": len(synthetic), "held_out_hits": hits,
                "held_out_hits_valid": valid_hits, "held_out_hits_test": hits - valid_hits,
                "fuse": {"users_extended": report.users_extended, "dropped": report.dropped},
                "quality": {"scores": quality.scores, "overall": quality.overall, "privacy": quality.privacy},
                "synth_seconds": {"fit": synth_fit, "complete": complete_s, "sample": sample_s,
                                  "sample_users": len(np.unique(new_users.users))},
                "synth_from_cache": synth_hit,
            }  # fmt: skip
            print(f"  {s_name}: fit {synth_fit:.1f}s, complete {complete_s:.1f}s ({len(synthetic)} rows, "
                  f"{hits} held-out hits, {valid_hits} of them validation), sample {sample_s:.1f}s, quality overall {quality.overall:.3f} "
                  f"{ {k: round(v, 3) for k, v in quality.scores.items()} } privacy {quality.privacy:.3f}",
                  flush=True)  # fmt: skip
            ts = TestSetting(split, Split(fused, split.valid, split.test, split.protocol), rules, seg_names,
                             {m: (controls[m], control_models[m]) for m in args.models},
                             test_hit_users.unique().implode())  # fmt: skip
            for m in args.models:
                arms = [(arm, None, extra)]
                if args.asrep and s_name == "sequence" and m == "sasrec":
                    arms.append((f"{arm}-asrep", synth.model_,
                                 {**extra, "init_from": "sequence synthesizer's reversed SASRec"}))  # fmt: skip
                for arm_name, init_from, arm_extra in arms:
                    model, secs = fit_model(m, fused, split, seed, args, item_space, init_from=init_from,
                                            checkpoint={"arm": arm_name})
                    stages = [(arm_name, model, secs, arm_extra)]
                    if args.finetune_real and m in FINETUNABLE:
                        tuned, tuned_secs = fit_model(m, split.train, split, seed, args, item_space, init_from=model,
                                                      checkpoint={"arm": f"{arm_name}-ft"})
                        stages.append((f"{arm_name}-ft", tuned, tuned_secs,
                                       {**arm_extra, "pretrain_on_fused": {"fit": secs["fit"], "epochs_run": secs["epochs_run"]}}))  # fmt: skip
                    for stage_name, stage_model, stage_secs, stage_extra in stages:
                        also = {"paired_vs_refit_control": refit_controls[m]} if stage_name.endswith("-ft") else {}
                        for row in arm_rows(args, m, stage_name, seed, stage_model, stage_secs, ts, stage_extra,
                                            also):  # fmt: skip
                            results.append(row)
                            _print(row)
                        write_result(args.out, "generate_utility", results, quick=args.quick,
                                     protocol=protocol, device=args.device)  # fmt: skip
    write_result(
        args.out, "generate_utility", results, quick=args.quick, protocol=protocol, device=args.device
    )
    print(f"wrote {args.out}")


@dataclass
class TestSetting:
    """What every arm of one seed and synthesizer is evaluated against."""

    split: Split  # the real split: test targets, real histories (input and mask)
    completed: Split  # the same with the fused training rows (input of the '-in' rows)
    rules: list[Any]
    seg_names: list[str]
    controls: dict[str, tuple[Any, Any]]  # model name -> (control result, control model)
    test_hit_users: pl.Series  # users whose completions contained their test item (one list)

    @cached_property
    def inputs(self) -> Any:
        """Completed test-time histories, one row per test user (built once, read by every model)."""
        return held_out_histories(self.completed, "test")[0]


def arm_rows(
    args: Any, m: str, arm: str, seed: int, model: Any, secs: dict[str, float], ts: TestSetting,
    extra: dict[str, Any],
    also_vs: dict[str, Any] | None = None,
) -> list[dict]:
    """Evaluate one augmented model; its result rows.

    ``also_vs`` maps an extra key to another baseline's result: each row also gets the paired
    test against it under that key (e.g. the refitted control of a fine-tuned arm).
    Main row: the real test histories, input and mask, exactly as for the control. ``-in`` row
    (models that read the history): the completed histories as input, the real ones masked.
    ``masked_synthetic`` in the main row's extra keeps the protocol of stops 8-14 (completed
    histories as input *and* mask) for the treated model and for the untouched control model:
    the control's change under it is the masking artifact alone.
    """
    control, control_model = ts.controls[m]
    res = evaluate_test(model, ts.split, ts.rules, secs)
    old_treated = evaluate_test(model, ts.completed, ts.rules, {})
    old_control = evaluate_test(control_model, ts.completed, ts.rules, {})
    row_extra = {
        **extra,
        "paired_vs_control": paired(control, res, ts.seg_names),
        "paired_by_test_hit": by_test_hit(control, res, ts.test_hit_users),
        "masked_synthetic": {
            "treated": old_treated.segments_flat(),
            "control": old_control.segments_flat(),
            "control_vs_real_control": paired(control, old_control, ts.seg_names),
        },
    }
    also = also_vs or {}
    row_extra.update({key: paired(base, res, ts.seg_names) for key, base in also.items()})
    rows = [_row(args, m, arm, "control", seed, res, secs, row_extra)]
    if m in READS_HISTORY:
        in_secs = dict(secs)
        res_in = evaluate_test(WithInputHistories(model, ts.inputs), ts.split, ts.rules, in_secs)
        in_extra = {**extra, "paired_vs_control": paired(control, res_in, ts.seg_names),
                    **{key: paired(base, res_in, ts.seg_names) for key, base in also.items()},
                    "test_input": "completed histories; real histories masked"}  # fmt: skip
        rows.append(_row(args, m, f"{arm}-in", "control", seed, res_in, in_secs, in_extra))
    return rows


def _row(
    args: Any, model: str, arm: str, control: str | None, seed: int, res: Any, secs: dict, extra: dict
) -> dict:
    return {
        "dataset": args.dataset,
        "variant": f"{model}{'' if arm == 'control' else arm}",
        "control": None if control is None else model,
        "seed": seed,
        "metrics": res.summary(),
        "segments": res.segments_flat(),
        "seconds": {**{k: secs[k] for k in ("fit", "per_epoch", "evaluate")},
                    "epochs_total": secs.get("epochs_total")},  # absent from fits cached before stop 31
        "peak_memory_mb": peak_memory_mb(),
        "extra": {"epochs_run": secs["epochs_run"], "best_epoch": secs.get("best_epoch"), **extra},
    }


def _print(row: dict) -> None:
    seg = row["segments"]
    parts = [f"{name}: " + " ".join(f"{m}={seg[name][m]:.4f}" for m in HEAD) for name in seg]
    delta = ""
    if "paired_vs_control" in row["extra"]:
        c = row["extra"]["paired_vs_control"]["all"]["NDCG@10"]
        delta = f" | dNDCG@10={c['mean_diff']:+.4f} p={c['t_pvalue']:.3g}"
    print(f"{row['variant']:18s} seed={row['seed']} " + "; ".join(parts)
          + f" | fit {row['seconds']['fit']:.0f}s{delta}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
