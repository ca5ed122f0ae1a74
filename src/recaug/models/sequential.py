"""``NextItemRecommender``: shared training/scoring of the sequence models (SASRec, GRU4Rec).

Training instances: one per user sequence (its last ``max_len + 1`` training items), predicting
every next position at once; no prefix expansion. The padded input/target matrix is built once
with ``Sequences.to_padded`` and batches are row slices of it; negatives are drawn in bulk.
Each batch is split into ``length_groups`` groups of similar length and every group is trimmed
to its longest row before the forward pass: the same gradient as the whole padded batch (rows
are independent and padding never influences real positions), for a fraction of the work.
A sequence net maps ``(B, L)`` item rows to ``(B, L, d)`` hidden states and owns
``item_embedding`` (the shared output layer) and ``padding_side``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from recaug import columns as C
from recaug.data.interactions import Interactions
from recaug.data.sequences import Sequences
from recaug.errors import ConfigError
from recaug.models.inputs import finish_scores, padded_items
from recaug.models.losses import check_loss, negatives_outside_rows, next_item_loss, uniform_items
from recaug.models.neural import NeuralRecommender


class NextItemRecommender(NeuralRecommender):
    """Base of sequence models trained to predict the next item at every position."""

    sequential = True
    #: batch rows scored at once in :meth:`score`
    score_batch = 1024

    def __init__(
        self,
        *,
        max_len: int = 50,
        loss: str = "ce",
        n_negatives: int = 100,
        length_groups: int = 8,
        seed: int = 0,
        device: str = "auto",
        **train: Any,
    ) -> None:
        super().__init__(seed=seed, device=device, **train)
        if max_len < 1:
            raise ConfigError("max_len must be >= 1")
        check_loss(loss, n_negatives)
        if length_groups < 1:
            raise ConfigError("length_groups must be >= 1")
        self.max_len = max_len
        self.loss = loss
        self.n_negatives = n_negatives
        self.length_groups = length_groups

    def config(self) -> dict[str, Any]:
        """Constructor settings."""
        return {
            **super().config(),
            "max_len": self.max_len,
            "loss": self.loss,
            "n_negatives": self.n_negatives,
            "length_groups": self.length_groups,
        }

    def _instances(self, train: Interactions, side: str) -> tuple[torch.Tensor, torch.Tensor]:
        """``(inputs, targets)`` int64 matrices (rows, max_len); rows without a target dropped."""
        rows = padded_items(
            Sequences.from_interactions(train), self.max_len + 1, self.item_space_ or 0, side=side
        )
        inputs, targets = rows[:, :-1], rows[:, 1:]
        useful = ((inputs != C.PAD_ID) & (targets != C.PAD_ID)).any(dim=1)
        return inputs[useful].contiguous(), targets[useful].contiguous()

    def fit(
        self, train: Interactions, valid: Interactions | None = None, *, item_space: int | None = None
    ) -> NextItemRecommender:
        """Train on every next-item position of every training sequence."""
        self.item_space_ = self._item_space(train, valid, item_space)
        self.module_ = self._new_module()
        net = self.module_
        side = net.padding_side
        inputs, targets = self._instances(train, side)
        lengths = (inputs != C.PAD_ID).sum(dim=1)
        device, gen, n = self.torch_device, self._generator(), self.item_space_

        def batch_loss(rows: torch.Tensor) -> torch.Tensor:
            hidden, wanted, negatives = [], [], []
            for group in _length_groups(lengths[rows], self.length_groups):
                sub = rows[group]
                width = max(int(lengths[sub].max()), 1)
                x, y = _trim(inputs[sub], width, side), _trim(targets[sub], width, side)
                where = (x != C.PAD_ID) & (y != C.PAD_ID)
                if self.loss == "bce":
                    negatives.append(negatives_outside_rows(torch.cat([x, y], dim=1), width, n, gen)[where])
                hidden.append(net(x.to(device))[where.to(device)])
                wanted.append(y[where])
            y_all = torch.cat(wanted)
            neg = torch.cat(negatives) if negatives else None
            if self.loss == "sampled_softmax":
                neg = uniform_items((len(y_all), self.n_negatives), n, gen)
            neg = None if neg is None else neg.to(device)
            return next_item_loss(
                torch.cat(hidden), y_all.to(device), net.item_embedding.weight, self.loss, neg
            )

        self._train(batch_loss, len(inputs), train, valid, gen)
        return self

    def score(self, histories: Sequences) -> torch.Tensor:
        """Dot product of the hidden state after the last item with every item embedding.

        Rows are processed in order of length, each chunk trimmed to its longest row (exact:
        padding never influences real positions), then put back in input order.
        """
        with self._inference() as net:
            side, device = net.padding_side, self.torch_device
            x = padded_items(histories, self.max_len, self.item_space_, side=side)
            lengths = torch.from_numpy(np.minimum(histories.lengths, self.max_len))
            order = torch.argsort(lengths, stable=True)
            scores = torch.empty(len(histories), self.item_space_)
            for lo in range(0, len(histories), self.score_batch):
                rows = order[lo : lo + self.score_batch]
                width = max(int(lengths[rows].max()), 1)
                hidden = net(_trim(x[rows], width, side).to(device))
                if side == "left":
                    h = hidden[:, -1]
                else:
                    last = (lengths[rows] - 1).clamp_min(0).to(device)
                    h = hidden[torch.arange(len(rows), device=device), last]
                scores[rows] = (h @ net.item_embedding.weight.T).cpu()
        return finish_scores(scores)


def _trim(x: torch.Tensor, width: int, side: str) -> torch.Tensor:
    """Keep the ``width`` columns that hold items (the right end when left-padded)."""
    return x[:, x.shape[1] - width :] if side == "left" else x[:, :width]


def _length_groups(lengths: torch.Tensor, n_groups: int) -> tuple[torch.Tensor, ...]:
    """Positions of a batch split into ``n_groups`` groups of similar length (shortest first)."""
    order = torch.argsort(lengths, stable=True)
    return tuple(g for g in order.tensor_split(min(n_groups, max(len(order), 1))) if len(g))
