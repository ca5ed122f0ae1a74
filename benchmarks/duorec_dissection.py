"""Which part of DuoRec costs SASRec-CE: validation-only arms on a Beauty user subset.

    python benchmarks/duorec_dissection.py --arms control duorec duorec-dropout-only --users 5000

Each arm is SASRec-CE with the P1 settings of ``expand_accuracy.py`` (validation every 2
epochs, patience 5), trained on a random subset of Beauty users (``expand_accuracy.subsample``,
seed 0) and reported by its best *validation* NDCG@10 and epoch; the test items are never
scored, so the arms can be compared and re-run freely. Arms: ``control``; ``duorec`` (the
library's DuoRec: a same-target positive, else the row's dropout view); ``duorec-t4`` (the
same at temperature 4); ``duorec-dropout-only`` (DuoRec's unsupervised arm: every positive is
the row's own dropout view; done here by making the same-target index find no partner, a
diagnostic, not a library option); ``duorec-concat`` (every position's state contrasted);
``control-d0.2`` / ``duorec-dropout-only-d0.2`` (the same with dropout 0.2 instead of P1's 0.5:
is the dropout view's strength what hurts?).
"""

from __future__ import annotations

import contextlib
import time
from typing import Any
from unittest import mock

import torch

import recaug.models.contrastive as cl
from _common import dataset_file, parser, require, write_result
from expand_accuracy import SASREC, subsample
from recaug.data.io import read
from recaug.models import SASRec
from recaug.split import LeaveLastOut

ARMS: dict[str, dict[str, Any]] = {
    "control": {},
    "duorec": {"contrastive": "duorec"},
    "duorec-t4": {"contrastive": "duorec", "cl_temperature": 4.0},
    "duorec-dropout-only": {"contrastive": "duorec"},
    "duorec-concat": {"contrastive": "duorec", "cl_representation": "concat"},
    "control-d0.2": {"dropout": 0.2},
    "duorec-dropout-only-d0.2": {"contrastive": "duorec", "dropout": 0.2},
}
#: arms whose DuoRec never finds a same-target partner (the positive is always the dropout view)
DROPOUT_ONLY = {"duorec-dropout-only", "duorec-dropout-only-d0.2"}
#: P1's early stopping, as in ``expand_accuracy.py`` runs
EVAL_EVERY, PATIENCE = 2, 5


def _no_partners(self: cl.TargetIndex, targets: torch.Tensor, rows: Any, generator: Any) -> torch.Tensor:
    """Every query gets no same-target partner, so DuoRec falls back to the dropout view."""
    return torch.full((len(targets),), -1, dtype=torch.int64)


def main() -> None:
    """Fit each arm and write its best validation NDCG@10."""
    p = parser(__doc__.splitlines()[0], default_out="duorec_dissection.json")
    p.add_argument("--arms", nargs="+", default=["control", "duorec", "duorec-dropout-only"], choices=list(ARMS))
    p.add_argument("--users", type=int, default=5000)
    p.add_argument("--epochs", type=int, default=200)
    args = p.parse_args()
    users, epochs = (min(args.users, 500), min(args.epochs, 3)) if args.quick else (args.users, args.epochs)
    ds = read(require(dataset_file(args.data_root, "beauty")), format="s3rec")
    split = LeaveLastOut(n_valid=1, n_test=1).split(subsample(ds.interactions, users, 0))
    results = []
    for seed in args.seeds:
        for arm in args.arms:
            no_partners = mock.patch.object(cl.TargetIndex, "partners", _no_partners)
            with no_partners if arm in DROPOUT_ONLY else contextlib.nullcontext():
                t0 = time.perf_counter()
                model = SASRec(**{**SASREC, "loss": "ce", **ARMS[arm]}, epochs=epochs, patience=PATIENCE,
                               eval_every=EVAL_EVERY, threads=1, seed=seed, device=args.device)
                model.fit(split.train, split.valid, item_space=ds.vocab.item_space)
            scores = [h["metric"] for h in model.history_ if h.get("metric") is not None]
            results.append({"dataset": "beauty", "variant": arm, "seed": seed, "users": users,
                            "best_valid_ndcg10": max(scores, default=None), "best_epoch": model.best_epoch_,
                            "epochs_run": len(model.history_), "seconds": time.perf_counter() - t0})
            print(results[-1], flush=True)
            write_result(args.out, "duorec_dissection", results, quick=args.quick,
                         protocol={"split": "leave_last_out", "metric": "best validation NDCG@10 (test unused)",
                                   "users": users, "early_stopping": f"every {EVAL_EVERY} epochs, patience {PATIENCE}"},
                         device=args.device)


if __name__ == "__main__":
    main()
