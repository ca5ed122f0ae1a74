"""``GRU4RecNet``: a GRU over item embeddings (Hidasi et al. 2016, with full-softmax next-item loss)."""

from __future__ import annotations

import torch
from torch import nn

from recaug import columns as C


class GRU4RecNet(nn.Module):
    """Right-padded item rows ``(B, L)`` -> hidden states ``(B, L, d)`` scored against ``item_embedding``."""

    padding_side = "right"

    def __init__(self, item_space: int, hidden: int = 64, n_layers: int = 1, dropout: float = 0.25) -> None:
        super().__init__()
        self.item_embedding = nn.Embedding(item_space, hidden, padding_idx=C.PAD_ID)
        self.dropout = nn.Dropout(dropout)
        self.gru = nn.GRU(
            hidden, hidden, n_layers, batch_first=True, dropout=dropout if n_layers > 1 else 0.0
        )
        self.proj = nn.Linear(hidden, hidden)
        nn.init.normal_(self.item_embedding.weight, std=0.02)
        with torch.no_grad():
            self.item_embedding.weight[C.PAD_ID].zero_()

    def forward(self, items: torch.Tensor) -> torch.Tensor:
        """Hidden state after every position (positions after the row's end are ignored)."""
        out, _ = self.gru(self.dropout(self.item_embedding(items)))
        return self.proj(self.dropout(out))
