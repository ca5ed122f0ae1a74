"""``SetSynthesizer``: shared sampling of the bag-of-items generators (VAE, GAN).

A subclass supplies item logits for new users (``_new_user_logits``) and for existing users
given their history vectors (``_history_logits``). This base draws the items:

* new users: a length from the training length distribution, then that many distinct items by
  Gumbel-top-k from ``softmax(logits / temperature)`` (sampling without replacement);
* completion: ``k`` items not in the history from ``softmax(logits / complete_temperature)``
  (``complete_temperature=0`` takes the top-scoring unseen items); ``complete_min_prob=p``
  only ever adds items the model gives at least probability ``p`` (``softmax(logits)`` over
  the items that may be added; for the VAE its multinomial likelihood, for the GAN a softmax
  of its purchase logits, a relative score rather than a calibrated probability), so a user
  the model is unsure about gets fewer items or none.
  Why: completions help the users whose next item the model already predicts and hurt the
  others (``benchmarks/README.md``), and the model's confidence tells them apart;

then orders each set into a sequence with the :class:`~recaug.generate.order.OrderModel`
(``order="greedy"`` or ``"sample"``; ``"none"`` keeps the draw order). Work is chunked over
users (whole-matrix kernels within a chunk, never a loop over users).

How long to train is picked on *training* data, never on a split's validation items:
``holdout_users=N`` holds back the last training item of ``N`` random training users (with at
least two items), trains the network without those rows, ranks each held-back item from the
rest of its user's history after every epoch (NDCG@10, the completion task) and keeps the best
epoch, stopping after ``patience`` epochs without a gain. ``holdout_users=0`` trains for
``epochs`` and keeps the last one. It pays where the curve has a sharp peak: for the GAN, 2,000
users picked the validation-best epoch on Beauty and Toys. The VAE's curve is flat after ~10
epochs and 2,000 users were too few to read it (epoch 6 picked, 10% below epoch 30 on
validation), so the VAE keeps its fixed 30 epochs by default (``benchmarks/synth_epochs.py``).
"""

from __future__ import annotations

import dataclasses
import logging
from abc import abstractmethod
from typing import Any

import numpy as np
import polars as pl
import scipy.sparse as sp
import torch

from recaug import columns as C
from recaug.data.csr import offsets_from_lengths, row_of
from recaug.data.interactions import Interactions
from recaug.data.sequences import Sequences
from recaug.errors import ConfigError
from recaug.generate._sampling import SALT_ITEMS, gumbel_topk, row_chunks
from recaug.generate.base import Synthesizer, first_times, prefixed, unprefixed
from recaug.generate.order import OrderModel
from recaug.models.inputs import history_matrix, user_item_matrix
from recaug.models.training import num_threads

log = logging.getLogger("recaug.generate")
ORDERS = ("none", "greedy", "sample")
#: (histories without the held-back item, held-back item per row), fed to ``fit_loop(valid=...)``
Holdout = tuple[Sequences, np.ndarray]


class SetSynthesizer(Synthesizer):
    """Base of generators that produce a user's *set* of items (see the module docstring)."""

    def __init__(
        self,
        *,
        temperature: float = 1.0,
        complete_temperature: float = 1.0,
        complete_min_prob: float = 0.0,
        order: str = "greedy",
        holdout_users: int = 0,
        patience: int = 3,
        **base: Any,
    ) -> None:
        super().__init__(**base)
        if temperature < 0 or complete_temperature < 0:
            raise ConfigError("temperature and complete_temperature must be >= 0")
        if not 0.0 <= complete_min_prob < 1.0:
            raise ConfigError(f"complete_min_prob must be in [0, 1), got {complete_min_prob}")
        if order not in ORDERS:
            raise ConfigError(f"order must be one of {ORDERS}, got {order!r}")
        if holdout_users < 0 or patience < 1:
            raise ConfigError(f"holdout_users must be >= 0 and patience >= 1, got {holdout_users}, {patience}")
        self.temperature = temperature
        self.complete_temperature = complete_temperature
        self.complete_min_prob = float(complete_min_prob)
        self.order = order
        self.holdout_users = int(holdout_users)
        self.patience = int(patience)
        if self.holdout_users:
            self.train_config = dataclasses.replace(self.train_config, patience=self.patience, eval_every=1)
        self.order_model_: OrderModel | None = None

    def config(self) -> dict[str, Any]:
        """Constructor settings."""
        return {
            **super().config(),
            "temperature": self.temperature,
            "complete_temperature": self.complete_temperature,
            "complete_min_prob": self.complete_min_prob,
            "order": self.order,
            "holdout_users": self.holdout_users,
            "patience": self.patience,
        }

    # -- hooks ------------------------------------------------------------------------------
    @abstractmethod
    def _new_user_logits(self, users: np.ndarray, seed: int) -> torch.Tensor:
        """``(len(users), item_space)`` logits for new users (eval mode, no grad)."""

    @abstractmethod
    def _history_logits(self, x: torch.Tensor, users: np.ndarray, seed: int) -> torch.Tensor:
        """Logits given dense history rows ``x`` (eval mode, no grad)."""

    @abstractmethod
    def _fit_net(self, train: Interactions, holdout: Holdout | None) -> None:
        """Train the network(s) on ``train``; pass ``holdout`` to ``fit_loop(valid=...)``."""

    # -- shared -----------------------------------------------------------------------------
    def _training_matrix(self, train: Interactions) -> tuple[sp.csr_matrix, np.ndarray]:
        """Users x items matrix of ``train`` and the codes of the users (rows) with any item."""
        assert self.item_space_ is not None and self.n_users_ is not None
        matrix = user_item_matrix(train, self.n_users_, self.item_space_)
        return matrix, np.flatnonzero(np.diff(matrix.indptr) > 0)

    def _split_holdout(self, train: Interactions) -> tuple[Interactions, Holdout | None]:
        """``train`` without the held-back rows, and the held-back task (see the module docstring)."""
        if self.holdout_users == 0:
            return train, None
        seqs = Sequences.from_interactions(train)
        eligible = np.flatnonzero(seqs.lengths >= 2)
        if len(eligible) == 0:
            log.warning("%s: no training user has 2 items; training %d epochs without a holdout",
                        self.name, self.train_config.epochs)  # fmt: skip
            return train, None
        rng = np.random.default_rng([self.seed, 0x401D])
        rows = np.sort(rng.choice(eligible, size=min(self.holdout_users, len(eligible)), replace=False))
        held = seqs.take(rows)
        targets = held.items[held.offsets[1:] - 1].astype(np.int64)
        keep = held.items != np.repeat(targets, held.lengths)  # the target, wherever it occurs
        offsets = offsets_from_lengths(np.bincount(row_of(held.offsets)[keep], minlength=len(held)))
        histories = Sequences(offsets, held.items[keep], held.users)
        pairs = pl.DataFrame({C.USER: held.users, C.ITEM: targets}).cast(
            {C.USER: train.frame.schema[C.USER], C.ITEM: train.frame.schema[C.ITEM]}
        )
        rest = Interactions(train.frame.join(pairs, on=[C.USER, C.ITEM], how="anti", maintain_order="left"))
        return rest, (histories, targets)

    def _logits_given(self, histories: sp.csr_matrix, users: np.ndarray, seed: int) -> torch.Tensor:
        """Logits for sparse history rows (made dense, on the device, one chunk at a time)."""
        x = torch.from_numpy(histories.toarray().astype(np.float32, copy=False)).to(self.torch_device)
        return self._history_logits(x, users, seed)

    def score(self, histories: Sequences) -> torch.Tensor:
        """Item logits given ``histories`` (what completion ranks; used to pick the best epoch)."""
        self._eval()
        with torch.no_grad():
            matrix = history_matrix(histories, self.item_space_ or 0)
            return self._logits_given(matrix, histories.users.astype(np.int64), self.seed)

    def _fit(self, train: Interactions) -> None:
        rest, holdout = self._split_holdout(train)
        self._fit_net(rest, holdout)
        if holdout is not None:
            log.info("%s: best epoch %s on %d held-back training users", self.name, self.best_epoch_,
                     len(holdout[1]))  # fmt: skip
        self.order_model_ = None
        if self.order != "none":
            method = "greedy" if self.order == "greedy" else "sample"
            self.order_model_ = OrderModel(method=method).fit(train, item_space=self.item_space_)

    def _draw(
        self,
        logits_fn: Any,
        users: np.ndarray,
        k: np.ndarray,
        seed: int,
        allowed: np.ndarray,
        temperature: float,
        ban: Sequences | None = None,
        min_prob: float = 0.0,
    ) -> Sequences:
        n = self.item_space_ or 0
        banned = torch.from_numpy(~allowed)
        offsets, parts = [np.zeros(1, dtype=np.int64)], []
        with torch.no_grad(), num_threads(self.train_config.threads):
            for rows in row_chunks(len(users), n):
                logits = logits_fn(rows).float().cpu()
                logits[:, banned] = -torch.inf
                if ban is not None:
                    sub = ban.take(np.arange(rows.start, rows.stop))
                    r = np.repeat(np.arange(len(sub)), sub.lengths)
                    it = sub.items.astype(np.int64)
                    ok = it < n
                    logits[torch.from_numpy(r[ok]), torch.from_numpy(it[ok])] = -torch.inf
                if min_prob > 0:  # rows with nothing left give NaN, which fails the test too
                    logits[~(torch.softmax(logits, dim=1) >= min_prob)] = -torch.inf
                off, items = gumbel_topk(logits, users[rows], k[rows], seed, SALT_ITEMS, temperature)
                offsets.append(off[1:] + offsets[-1][-1])
                parts.append(items)
        items = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        return Sequences(np.concatenate(offsets), items, users)

    def _ordered(self, sets: Sequences, seed: int, start_times: np.ndarray) -> Sequences:
        if self.order_model_ is None:
            lengths = sets.lengths
            pos = np.arange(len(sets.items), dtype=np.int64) - np.repeat(sets.offsets[:-1], lengths)
            return Sequences(sets.offsets, sets.items, sets.users, np.repeat(start_times, lengths) + pos)
        return self.order_model_.order(sets, seed, start_times=start_times)

    def _sample(self, users: np.ndarray, seed: int, allowed: np.ndarray) -> Sequences:
        lengths = self.sample_lengths(users, seed, int(allowed.sum()))
        self._eval()
        sets = self._draw(
            lambda rows: self._new_user_logits(users[rows], seed),
            users,
            lengths,
            seed,
            allowed,
            self.temperature,
        )
        return self._ordered(sets, seed, np.zeros(len(users), dtype=np.int64))

    def _complete(self, seqs: Sequences, k: int, seed: int, allowed: np.ndarray) -> Sequences:
        n = self.item_space_ or 0
        users = seqs.users.astype(np.int64)
        matrix = history_matrix(seqs, n)
        self._eval()
        sets = self._draw(
            lambda rows: self._logits_given(matrix[rows], users[rows], seed),
            users, np.full(len(seqs), k), seed, allowed, self.complete_temperature, ban=seqs,
            min_prob=self.complete_min_prob,
        )  # fmt: skip
        sets = Sequences(sets.offsets, sets.items, seqs.users)
        t0 = first_times(seqs) - sets.lengths
        return self._ordered(sets, seed, t0)

    def _eval(self) -> None:
        """Put the networks in eval mode (subclasses with several nets override)."""

    # -- persistence ------------------------------------------------------------------------
    def _order_state(self) -> dict[str, Any]:
        if self.order_model_ is None:
            return {}
        return prefixed("order", self.order_model_.state_dict())

    def _load_order_state(self, state: dict[str, Any]) -> None:
        sub = unprefixed("order", state)
        self.order_model_ = None
        if sub:
            method = "greedy" if self.order == "greedy" else "sample"
            self.order_model_ = OrderModel(method=method).load_state_dict(sub)
