"""``SetSynthesizer``: shared sampling of the bag-of-items generators (VAE, GAN).

A subclass supplies item logits for new users (``_new_user_logits``) and for existing users
given their history vectors (``_history_logits``). This base draws the items:

* new users: a length from the training length distribution, then that many distinct items by
  Gumbel-top-k from ``softmax(logits / temperature)`` (sampling without replacement);
* completion: ``k`` items not in the history from ``softmax(logits / complete_temperature)``
  (``complete_temperature=0`` takes the top-scoring unseen items);

then orders each set into a sequence with the :class:`~recaug.generate.order.OrderModel`
(``order="greedy"`` or ``"sample"``; ``"none"`` keeps the draw order). Work is chunked over
users (whole-matrix kernels within a chunk, never a loop over users).
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from recaug.data.interactions import Interactions
from recaug.data.sequences import Sequences
from recaug.errors import ConfigError
from recaug.generate._sampling import SALT_ITEMS, gumbel_topk, row_chunks
from recaug.generate.base import Synthesizer, first_times, prefixed, unprefixed
from recaug.generate.order import OrderModel
from recaug.models.inputs import history_matrix, user_item_matrix
from recaug.models.training import num_threads

ORDERS = ("none", "greedy", "sample")


class SetSynthesizer(Synthesizer):
    """Base of generators that produce a user's *set* of items (see the module docstring)."""

    def __init__(
        self,
        *,
        temperature: float = 1.0,
        complete_temperature: float = 1.0,
        order: str = "greedy",
        **base: Any,
    ) -> None:
        super().__init__(**base)
        if temperature < 0 or complete_temperature < 0:
            raise ConfigError("temperature and complete_temperature must be >= 0")
        if order not in ORDERS:
            raise ConfigError(f"order must be one of {ORDERS}, got {order!r}")
        self.temperature = temperature
        self.complete_temperature = complete_temperature
        self.order = order
        self.order_model_: OrderModel | None = None

    def config(self) -> dict[str, Any]:
        """Constructor settings."""
        return {
            **super().config(),
            "temperature": self.temperature,
            "complete_temperature": self.complete_temperature,
            "order": self.order,
        }

    # -- hooks ------------------------------------------------------------------------------
    @abstractmethod
    def _new_user_logits(self, users: np.ndarray, seed: int) -> torch.Tensor:
        """``(len(users), item_space)`` logits for new users (eval mode, no grad)."""

    @abstractmethod
    def _history_logits(self, x: torch.Tensor, users: np.ndarray, seed: int) -> torch.Tensor:
        """Logits given dense history rows ``x`` (eval mode, no grad)."""

    @abstractmethod
    def _fit_net(self, train: Interactions) -> None:
        """Train the network(s)."""

    # -- shared -----------------------------------------------------------------------------
    def _training_matrix(self, train: Interactions) -> tuple[sp.csr_matrix, np.ndarray]:
        """Users x items matrix of ``train`` and the codes of the users (rows) with any item."""
        assert self.item_space_ is not None and self.n_users_ is not None
        matrix = user_item_matrix(train, self.n_users_, self.item_space_)
        return matrix, np.flatnonzero(np.diff(matrix.indptr) > 0)

    def _fit(self, train: Interactions) -> None:
        self._fit_net(train)
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
        device = self.torch_device

        def logits(rows: slice) -> torch.Tensor:
            x = torch.from_numpy(matrix[rows].toarray().astype(np.float32, copy=False)).to(device)
            return self._history_logits(x, users[rows], seed)

        sets = self._draw(
            logits, users, np.full(len(seqs), k), seed, allowed, self.complete_temperature, ban=seqs
        )
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
