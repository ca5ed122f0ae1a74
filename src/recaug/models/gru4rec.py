"""``GRU4Rec`` (Hidasi et al. 2016): a GRU over the item sequence, next-item loss at every step.

Defaults: ``max_len=50``, ``hidden=64``, 1 layer, dropout 0.25, full-softmax loss (``"ce"``),
Adam ``lr=1e-3``, batch 256, at most 200 epochs, early stopping with ``patience=10``.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from recaug.models.base import register
from recaug.models.nets.gru4rec import GRU4RecNet
from recaug.models.sequential import NextItemRecommender


@register
class GRU4Rec(NextItemRecommender):
    """GRU next-item model; the output layer is the item embedding (after a linear projection)."""

    name = "gru4rec"
    train_defaults = {"epochs": 200, "batch_size": 256, "lr": 1e-3, "patience": 10}

    def __init__(
        self, *, hidden: int = 64, n_layers: int = 1, dropout: float = 0.25, **settings: Any
    ) -> None:
        """The network's own settings; ``settings`` are the shared next-item settings
        (:class:`~recaug.models.sequential.NextItemRecommender`) and the training settings."""
        super().__init__(**settings)
        self.hidden = hidden
        self.n_layers = n_layers
        self.dropout = dropout

    def config(self) -> dict[str, Any]:
        """Constructor settings."""
        return {**super().config(), "hidden": self.hidden, "n_layers": self.n_layers, "dropout": self.dropout}

    def _build_module(self) -> nn.Module:
        assert self.item_space_ is not None
        return GRU4RecNet(self.item_space_, self.hidden, self.n_layers, self.dropout)
