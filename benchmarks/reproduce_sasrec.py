"""P1-protocol reproduction on Beauty / Sports / Toys: every model, full ranking, segments.

    python benchmarks/reproduce_sasrec.py --dataset beauty --loss bce --seeds 0 1 2
    python benchmarks/reproduce_sasrec.py --dataset beauty --models pop itemknn bpr multvae gru4rec sasrec-bce sasrec-ce

P1: S3Rec's leave-one-out (last item test, second last valid), ranking over all items, the
user's history masked, SASRec max length 50 / hidden 64 / 2 layers / 2 heads / dropout 0.5 /
Adam 1e-3 / batch 256, early stopping on validation NDCG@10. Results are appended to the JSON
after every run, so a long benchmark can be watched and interrupted.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from _common import dataset_file, parser, peak_memory_mb, write_result
from recaug.data.io import read
from recaug.evaluate import Evaluator
from recaug.models import get_model_class
from recaug.split import LeaveLastOut
from recaug.split.repeats import DEFAULT_REPEATS, REPEAT_POLICIES

#: published all-item SASRec-BCE numbers (S3Rec paper, Table 2)
PUBLISHED = {
    "beauty": {"HR@10": 0.0605, "NDCG@10": 0.0318},
    "sports": {"HR@10": 0.0350, "NDCG@10": 0.0192},
    "toys": {"HR@10": 0.0675, "NDCG@10": 0.0374},
}

SASREC = {"max_len": 50, "hidden": 64, "n_layers": 2, "n_heads": 2, "dropout": 0.5, "lr": 1e-3, "batch_size": 256}

VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "pop": ("pop", {}),
    "itemknn": ("itemknn", {}),
    "bpr": ("bpr", {}),
    "multvae": ("multvae", {}),
    "gru4rec": ("gru4rec", {}),
    "sasrec-bce": ("sasrec", {**SASREC, "loss": "bce"}),
    # the post-LayerNorm, 4d-GELU block of the S3Rec/ICLRec/RepPad code behind the published P1 figures
    "sasrec-bce-postln": ("sasrec", {**SASREC, "loss": "bce", "block": "post_ln"}),
    "sasrec-ce": ("sasrec", {**SASREC, "loss": "ce"}),
    "sasrec-ssm": ("sasrec", {**SASREC, "loss": "sampled_softmax", "n_negatives": 256}),
    # CL4SRec auxiliary loss (defaults: crop/mask/reorder views, weight 0.1, temperature 1.0)
    "sasrec-bce+cl4srec": ("sasrec", {**SASREC, "loss": "bce", "contrastive": "cl4srec"}),
}


def run_one(dataset: Any, split: Any, variant: str, seed: int, args: Any) -> dict[str, Any]:
    """Fit and evaluate one variant under one seed."""
    name, params = VARIANTS[variant]
    params = dict(params)
    cls = get_model_class(name)
    neural = name not in ("pop", "itemknn")
    if neural:
        params.update(epochs=args.epochs, patience=args.patience, threads=args.threads, eval_every=args.eval_every,
                      valid_repeats=args.repeats)
        if args.quick:
            params.update(epochs=min(args.epochs, 3))
        if args.checkpoint_dir is not None:  # per-epoch state: a killed run resumes where it stopped
            args.checkpoint_dir.mkdir(parents=True, exist_ok=True)
            params["checkpoint"] = str(args.checkpoint_dir / f"{args.current_dataset}-{variant}-{seed}.ckpt")
    model = cls(seed=seed, device=args.device, **params)
    t0 = time.perf_counter()
    model.fit(split.train, split.valid, item_space=dataset.vocab.item_space)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = Evaluator(ks=(5, 10, 20), repeats=args.repeats).evaluate(model, split, "test", item_categories=dataset)
    eval_s = time.perf_counter() - t0
    history = getattr(model, "history_", []) or []
    epochs = [h for h in history if "seconds" in h]
    per_epoch = sum(h["seconds"] for h in epochs) / len(epochs) if epochs else None
    segments = {
        seg: {"n_users": v["n_users"], **{k: v["metrics"][k] for k in ("HR@10", "NDCG@10")}}
        for seg, v in result.by_segment().items()
    }
    return {
        "dataset": args.current_dataset,
        "variant": variant,
        "control": None,
        "seed": seed,
        "metrics": result.summary(),
        "segments": segments,
        "seconds": {
            "fit": fit_s,
            "per_epoch": per_epoch,
            "evaluate": eval_s,
            "users_per_second_eval": result.n_users / eval_s if eval_s else None,
        },
        "peak_memory_mb": peak_memory_mb(),
        "extra": {
            "params": {k: v for k, v in params.items() if k != "checkpoint"},
            "epochs_run": len(epochs),
            "best_epoch": getattr(model, "best_epoch_", None),
            "train_sequences": int(split.train.n_users),
            "train_sequences_per_second": (split.train.n_users / per_epoch) if per_epoch else None,
            "published": PUBLISHED.get(args.current_dataset) if variant.startswith("sasrec-bce") else None,
        },
    }


def main() -> None:
    """Run the reproduction and write the JSON."""
    p = parser(__doc__.splitlines()[0], default_out="reproduce_sasrec.json")
    p.add_argument("--dataset", nargs="+", default=["beauty"], choices=["beauty", "sports", "toys"])
    p.add_argument("--loss", nargs="+", default=None, choices=["bce", "ce", "sampled_softmax"],
                   help="shortcut for --models sasrec-<loss>")
    p.add_argument("--models", nargs="+", default=None, choices=sorted(VARIANTS))
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--patience", type=int, default=10, help="validation rounds without improvement")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (1 is fastest on a shared 2-core machine)")
    p.add_argument("--eval-every", type=int, default=1, help="validate every N epochs (patience counts validations)")
    p.add_argument("--checkpoint-dir", type=Path, default=None, help="save each fit's state every epoch here")
    p.add_argument("--repeats", default=DEFAULT_REPEATS, choices=REPEAT_POLICIES,
                   help="a test item the user already had: masked with the history (P1) or ranked")
    args = p.parse_args()
    variants = args.models or [f"sasrec-{'ssm' if loss == 'sampled_softmax' else loss}" for loss in (args.loss or ["bce"])]
    results: list[dict[str, Any]] = []
    if args.out.exists():  # append to earlier runs of other datasets/variants
        try:
            old = json.loads(args.out.read_text())
            if old.get("quick") == args.quick:
                results = old.get("results", [])
        except (json.JSONDecodeError, OSError):
            results = []
    protocol = {"split": "leave_last_out", "candidates": "all_items", "history_masking": "-inf", "ties": "pessimistic",
                "max_len": 50, "metrics": ["HR@5", "HR@10", "HR@20", "NDCG@5", "NDCG@10", "NDCG@20"],
                "repeats": args.repeats,
                "early_stopping": f"valid NDCG@10 every {args.eval_every} epoch(s), patience {args.patience} validations"}
    for ds_name in args.dataset:
        args.current_dataset = ds_name
        dataset = read(dataset_file(args.data_root, ds_name), format="s3rec")
        split = LeaveLastOut(n_valid=1, n_test=1).split(dataset.interactions)
        for variant in variants:
            for seed in args.seeds:
                row = run_one(dataset, split, variant, seed, args)
                results = [r for r in results
                           if not (r["dataset"] == ds_name and r["variant"] == variant and r["seed"] == seed)]
                results.append(row)
                write_result(args.out, "reproduce_sasrec", results, quick=args.quick, protocol=protocol,
                             device=args.device)
                m = row["metrics"]
                print(f"{ds_name:7s} {variant:11s} seed={seed} HR@10={m['HR@10']:.4f} NDCG@10={m['NDCG@10']:.4f} "
                      f"fit={row['seconds']['fit']:.0f}s epochs={row['extra']['epochs_run']} "
                      f"per_epoch={row['seconds']['per_epoch'] or 0:.1f}s eval={row['seconds']['evaluate']:.1f}s",
                      flush=True)


if __name__ == "__main__":
    main()
