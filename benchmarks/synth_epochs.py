"""Does the held-back-training-user score pick the right epoch for a set synthesizer (P1)?

    python benchmarks/synth_epochs.py --dataset beauty --method gan --epochs 12
    python benchmarks/synth_epochs.py --quick

``holdout_users=N`` (``recaug.generate.setbased``) picks a VAE/GAN synthesizer's epoch on the
last training item of ``N`` held-back training users, so that no validation or test item is ever
looked at. This script trains one synthesizer for ``--epochs`` epochs without stopping and, after
every epoch, records that selection score next to the score the split's *validation* items would
have given (NDCG@10 of the synthesizer's completion ranking of each user's validation item from
the full training history, history masked). The validation score is measured here only; it
never steers training. Agreement of the two curves (best epoch, Spearman correlation) is what
makes the training-only selection trustworthy.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from scipy.stats import spearmanr

import recaug.models.training as training
from _common import dataset_file, parser, write_result
from recaug.data import Sequences
from recaug.data.io import read
from recaug.generate import from_config
from recaug.split import LeaveLastOut
from recaug.split.repeats import DEFAULT_REPEATS


def main() -> None:
    p = parser(__doc__.splitlines()[0], default_out="synth_epochs.json")
    p.add_argument("--dataset", default="beauty", choices=["beauty", "sports", "toys"])
    p.add_argument("--method", default="gan", choices=["vae", "gan"])
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--holdout-users", type=int, default=2000)
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args()
    seeds = args.seeds[:1] if args.quick else args.seeds
    epochs = min(args.epochs, 2) if args.quick else args.epochs

    dataset = read(dataset_file(args.data_root, args.dataset), format="s3rec")
    split = LeaveLastOut(n_valid=1, n_test=1).split(dataset.interactions)
    train, valid = Sequences.from_interactions(split.train), Sequences.from_interactions(split.valid)
    valid_histories = train.take(np.searchsorted(train.users, valid.users))
    valid_targets = valid.items[valid.offsets[:-1]].astype(np.int64)
    results: list[dict[str, Any]] = []
    select = training.validation_score
    for seed in seeds:
        synth = from_config({
            "method": args.method, "seed": seed, "epochs": epochs, "holdout_users": args.holdout_users,
            "patience": epochs, "complete_temperature": 0.0, "device": args.device, "threads": args.threads,
            "progress": False,
        })  # fmt: skip
        curve: list[dict[str, float]] = []

        def measured(
            model: Any, histories: Sequences, targets: np.ndarray, metric: str, repeats: str = DEFAULT_REPEATS,
            *, curve=curve, seed=seed,
        ) -> float:
            value = select(model, histories, targets, metric, repeats)  # what training selects on
            curve.append({"epoch": len(curve) + 1, "holdout": value,
                          "valid": select(model, valid_histories, valid_targets, "NDCG@10")})  # fmt: skip
            print(f"{args.dataset} {args.method} seed={seed} {curve[-1]}", flush=True)
            return value

        training.validation_score = measured  # fit_loop looks the function up at call time
        try:
            started = time.perf_counter()
            synth.fit(split.train, item_space=dataset.vocab.item_space, items=dataset.items)
            seconds = time.perf_counter() - started
        finally:
            training.validation_score = select
        holdout = [c["holdout"] for c in curve]
        valid_scores = [c["valid"] for c in curve]
        results.append({
            "dataset": args.dataset, "variant": args.method, "seed": seed, "holdout_users": args.holdout_users,
            "curve": curve, "best_epoch_holdout": int(np.argmax(holdout)) + 1,
            "best_epoch_valid": int(np.argmax(valid_scores)) + 1,
            "spearman": float(spearmanr(holdout, valid_scores).statistic) if len(curve) > 2 else None,
            "seconds": {"fit": seconds},
        })  # fmt: skip
        r = results[-1]
        print(f"best epoch: held-back users {r['best_epoch_holdout']}, validation {r['best_epoch_valid']}; "
              f"Spearman {r['spearman']}", flush=True)  # fmt: skip
        protocol = {"split": "leave_last_out", "selection": f"last training item of {args.holdout_users} "
                    "held-back training users", "measured": "valid NDCG@10 of completion scores, history masked"}  # fmt: skip
        write_result(args.out, "synth_epochs", results, quick=args.quick, protocol=protocol, device=args.device)


if __name__ == "__main__":
    main()
