"""A small torch discriminator that tries to tell real users from synthetic users.

Model: mean-pooled item embeddings of the user's sequence (a sparse row-normalised
users x items matrix times an embedding table) plus length features (log length, share of
distinct items), then a two-layer MLP giving the probability that a user is synthetic. It is
trained full-batch (early-stopped on a validation side) on a seeded split of users; reports held-out accuracy and
ROC AUC. Users go to the test side by a hash of ``(seed, user code)``, so a synthetic
completion of real user ``u`` always lands on the same side (train / valid / test) as ``u`` (otherwise the model
would memorise ``u`` and score the copy as real); each class is then subsampled to the same
size per side. AUC near 0.5 means the synthetic users are indistinguishable;
``score = 1 - 2 * |AUC - 0.5|`` maps that to [0, 1] with 1 = indistinguishable.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
import torch
from scipy.stats import rankdata
from torch import nn

from recaug import columns as C
from recaug.data.interactions import Interactions
from recaug.data.sequences import Sequences
from recaug.errors import DataError, NotFittedError
from recaug.models.training import adam, num_threads, seeded_torch
from recaug.random import as_generator, hash_uniform

log = logging.getLogger("recaug.quality.discriminator")


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC via the Mann-Whitney rank statistic (ties get average ranks)."""
    labels = np.asarray(labels, dtype=bool)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        raise DataError("AUC needs both classes", expected="real and synthetic users")
    ranks = rankdata(scores)
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


@dataclass
class _Batch:
    bag: torch.Tensor  # sparse (users, items) COO, rows sum to 1 over known items
    features: torch.Tensor  # (users, 2)


class _Net(nn.Module):
    def __init__(self, n_items: int, dim: int, hidden: int) -> None:
        super().__init__()
        self.embedding = nn.Parameter(torch.randn(n_items, dim) * 0.1)
        self.mlp = nn.Sequential(nn.Linear(dim + 2, hidden), nn.ReLU(), nn.Linear(hidden, 1))
        self.register_buffer("feature_mean", torch.zeros(2))  # standardisation, set from training users
        self.register_buffer("feature_std", torch.ones(2))

    def forward(self, batch: _Batch) -> torch.Tensor:
        pooled = torch.sparse.mm(batch.bag, self.embedding)
        feats = (batch.features - self.feature_mean) / self.feature_std
        return self.mlp(torch.cat([pooled, feats], dim=1)).squeeze(1)


def _cat(a: _Batch, b: _Batch) -> _Batch:
    return _Batch(bag=torch.cat([a.bag, b.bag]).coalesce(), features=torch.cat([a.features, b.features]))


@dataclass
class Discriminator:
    """Real-vs-synthetic user classifier; ``fit`` then read ``auc_``, ``accuracy_``, ``score_``.

    Settings: embedding ``dim``, MLP ``hidden`` width, full-batch Adam for at most ``steps`` with ``lr``
    and ``weight_decay``, early-stopped when the loss on the ``valid_fraction`` of users has
    not improved for ``patience`` steps; ``test_fraction`` of users held out for the AUC; ``max_users_per_class``
    (seeded subsample), ``num_threads`` (torch threads while fitting; the model is tiny and
    one thread avoids oversubscription; ``None`` keeps torch's setting), ``seed``.
    """

    dim: int = 16
    hidden: int = 32
    steps: int = 200
    lr: float = 0.02
    weight_decay: float = 1e-4
    test_fraction: float = 0.3
    valid_fraction: float = 0.2
    patience: int = 10
    max_users_per_class: int = 5000
    min_users_per_class: int = 10
    num_threads: int | None = 1
    seed: int = 0
    model_: _Net | None = field(default=None, init=False, repr=False)
    n_items_: int = field(default=0, init=False)
    auc_: float = field(default=float("nan"), init=False)
    accuracy_: float = field(default=float("nan"), init=False)
    n_train_: int = field(default=0, init=False)
    n_test_: int = field(default=0, init=False)

    # -- features -------------------------------------------------------------------------
    def _batch(self, seqs: Sequences, rows: np.ndarray) -> _Batch:
        sub = seqs.take(rows)
        lengths = sub.lengths
        row = np.repeat(np.arange(len(sub)), lengths)
        items = sub.items.astype(np.int64)
        known = items < self.n_items_  # items unseen at fit time carry no embedding
        frame = pl.DataFrame({"r": row, "i": items, "k": known})
        per_row = frame.group_by("r").agg(pl.col("i").n_unique().alias("u"), pl.col("k").sum().alias("n"))
        per_row = pl.DataFrame({"r": np.arange(len(sub))}).join(per_row, on="r", how="left").fill_null(0)
        uniq = per_row.sort("r").get_column("u").to_numpy()
        n_known = per_row.sort("r").get_column("n").to_numpy()
        values = 1.0 / np.maximum(n_known[row[known]], 1)
        bag = torch.sparse_coo_tensor(
            torch.from_numpy(np.stack([row[known], items[known]])),
            torch.from_numpy(values.astype(np.float32)),
            (len(sub), self.n_items_),
            check_invariants=False,
        ).coalesce()
        feats = np.stack([np.log1p(lengths), uniq / np.maximum(lengths, 1)], axis=1)
        return _Batch(bag=bag, features=torch.from_numpy(feats.astype(np.float32)))

    def _forward_proba(self, batch: _Batch) -> np.ndarray:
        assert self.model_ is not None
        with torch.no_grad():
            return torch.sigmoid(self.model_(batch)).numpy().astype(np.float64)

    # -- fit ------------------------------------------------------------------------------
    def fit(self, real: Interactions, synthetic: Interactions) -> Discriminator:
        """Train (early-stopped on a validation side) and measure held-out accuracy and AUC."""
        rs, ss = Sequences.from_interactions(real), Sequences.from_interactions(synthetic)
        rng = as_generator(self.seed)
        cuts = np.array([self.test_fraction, self.test_fraction + self.valid_fraction])
        r_side = np.searchsorted(
            cuts, hash_uniform(self.seed, rs.users), side="right"
        )  # 0 test, 1 valid, 2 train
        s_side = np.searchsorted(cuts, hash_uniform(self.seed, ss.users), side="right")
        share = {0: self.test_fraction, 1: self.valid_fraction, 2: 1.0 - cuts[1]}

        def balanced(side: int) -> tuple[np.ndarray, np.ndarray]:
            r_rows, s_rows = np.flatnonzero(r_side == side), np.flatnonzero(s_side == side)
            n = min(len(r_rows), len(s_rows), max(1, round(self.max_users_per_class * share[side])))
            pick = (
                np.sort(rng.choice(r_rows, n, replace=False)),
                np.sort(rng.choice(s_rows, n, replace=False)),
            )
            return pick

        (r_test, s_test), (r_valid, s_valid), (r_train, s_train) = balanced(0), balanced(1), balanced(2)
        if (
            min(len(r_test), len(r_valid), len(r_train)) < 2
            or len(r_test) + len(r_valid) + len(r_train) < self.min_users_per_class
        ):
            raise DataError(
                f"discriminator needs >= {self.min_users_per_class} users per class; "
                f"have {len(rs)} real and {len(ss)} synthetic"
            )
        self.n_items_ = int(max(rs.items.max(initial=1), ss.items.max(initial=1))) + 1

        def both(r_idx: np.ndarray, s_idx: np.ndarray) -> tuple[_Batch, torch.Tensor]:
            batch = _cat(self._batch(rs, r_idx), self._batch(ss, s_idx))
            return batch, torch.from_numpy(
                np.r_[np.zeros(len(r_idx)), np.ones(len(s_idx))].astype(np.float32)
            )

        train_batch, train_y = both(r_train, s_train)
        valid_batch, valid_y = both(r_valid, s_valid)
        test_batch, test_y = both(r_test, s_test)
        # the shared helpers: torch's global streams forked and seeded, the thread count restored
        with seeded_torch(self.seed), num_threads(self.num_threads or None):
            model = _Net(self.n_items_, self.dim, self.hidden)
            model.feature_mean.copy_(train_batch.features.mean(0))
            model.feature_std.copy_(train_batch.features.std(0).clamp_min(1e-3))
            opt = adam(model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
            loss_fn = nn.BCEWithLogitsLoss()
            best, best_state, since = float("inf"), copy.deepcopy(model.state_dict()), 0
            for _ in range(self.steps):
                model.train()
                opt.zero_grad()
                loss_fn(model(train_batch), train_y).backward()
                opt.step()
                model.eval()
                with torch.no_grad():
                    valid_loss = float(loss_fn(model(valid_batch), valid_y))
                if valid_loss < best - 1e-6:
                    best, best_state, since = valid_loss, copy.deepcopy(model.state_dict()), 0
                else:
                    since += 1
                    if since >= self.patience:
                        break
            model.load_state_dict(best_state)
            model.eval()
            self.model_ = model
            proba = self._forward_proba(test_batch)
        test_y = test_y.numpy()
        self.auc_ = roc_auc(test_y, proba)
        self.accuracy_ = float(((proba >= 0.5) == (test_y == 1)).mean())
        self.n_train_, self.n_test_ = len(train_y), len(test_y)
        log.info(
            "discriminator: AUC %.3f, accuracy %.3f on %d held-out users",
            self.auc_,
            self.accuracy_,
            self.n_test_,
        )
        return self

    # -- results --------------------------------------------------------------------------
    @property
    def score_(self) -> float:
        """``1 - 2 * |AUC - 0.5|`` in [0, 1]; 1 = the discriminator cannot tell real from synthetic."""
        return float(max(0.0, 1.0 - 2.0 * abs(self.auc_ - 0.5)))

    def fake_proba(self, interactions: Interactions) -> pl.DataFrame:
        """Per user of ``interactions``: ``user_id`` and ``p_fake``, the predicted probability of being synthetic."""
        if self.model_ is None:
            raise NotFittedError("Discriminator.fake_proba called before fit")
        seqs = Sequences.from_interactions(interactions)
        proba = self._forward_proba(self._batch(seqs, np.arange(len(seqs)))) if len(seqs) else np.zeros(0)
        return pl.DataFrame({C.USER: seqs.users, "p_fake": proba})

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready results and settings."""
        return {
            "auc": self.auc_,
            "accuracy": self.accuracy_,
            "score": self.score_,
            "users_train": self.n_train_,
            "users_test": self.n_test_,
            "settings": {
                "dim": self.dim,
                "hidden": self.hidden,
                "steps": self.steps,
                "lr": self.lr,
                "weight_decay": self.weight_decay,
                "test_fraction": self.test_fraction,
                "valid_fraction": self.valid_fraction,
                "patience": self.patience,
                "max_users_per_class": self.max_users_per_class,
                "num_threads": self.num_threads,
                "seed": self.seed,
            },
        }
