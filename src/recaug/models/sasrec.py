"""``SASRec`` (Kang & McAuley 2018) with the P1-protocol defaults of S3Rec/CoSeRec/ICLRec.

Defaults: ``max_len=50``, ``hidden=64``, 2 layers, 2 heads, dropout 0.5, Adam ``lr=1e-3``,
batch 256, at most 200 epochs, early stopping on validation NDCG@10 with ``patience=10``
evaluations (the S3Rec/ICLRec setting). ``loss="bce"`` samples one negative per position
outside the user's sequence (the original SASRec / S3Rec objective), ``"ce"`` is the full
softmax over all items, ``"sampled_softmax"`` uses ``n_negatives`` uniform negatives.

Augmentation inside training (all optional, see :mod:`recaug.models.contrastive`):
``augmenter`` / ``aug_prob`` / ``n_views`` for online views of the training rows;
``contrastive="cl4srec"`` (two crop/mask/reorder views, ``cl_augmenter``) or ``"duorec"``
(dropout view + same-target positive) adds ``cl_weight * InfoNCE(temperature=cl_temperature)``
(``cl_representation``: what is contrasted; by default every position's state for CL4SRec,
the last state for DuoRec);
``block="post_ln"`` swaps the original SASRec block (pre-LayerNorm, d -> d ReLU FFN, sqrt(d)
embedding scale) for the one of the S3Rec/ICLRec/RepPad code (post-LayerNorm, d -> 4d GELU,
LayerNorm on the embeddings), the network behind those papers' P1 tables.
``repeat_pad=True`` fills the padding of short training rows with repeats (RepPad;
``repeat_pad_delimiter=True`` for the variant with a PAD pair between copies).
"""

from __future__ import annotations

from typing import Any

from torch import nn

from recaug.errors import ConfigError
from recaug.models.base import register
from recaug.models.nets.sasrec import BLOCKS, SASRecNet
from recaug.models.sequential import NextItemRecommender


@register
class SASRec(NextItemRecommender):
    """Causal self-attention over the last ``max_len`` items; output layer = item embedding."""

    name = "sasrec"
    train_defaults = {"epochs": 200, "batch_size": 256, "lr": 1e-3, "patience": 10}

    def __init__(
        self,
        *,
        hidden: int = 64,
        n_layers: int = 2,
        n_heads: int = 2,
        dropout: float = 0.5,
        block: str = "pre_ln",
        loss: str = "bce",
        **settings: Any,
    ) -> None:
        """The network's own settings; ``settings`` are the next-item settings every sequence model
        shares (:class:`~recaug.models.sequential.NextItemRecommender`: ``max_len``, augmentation,
        contrastive, RepPad, ``seed``, ``device``) and the training settings (``TrainConfig``)."""
        super().__init__(loss=loss, **settings)
        self.hidden = hidden
        self.n_layers = n_layers
        self.n_heads = n_heads
        self.dropout = dropout
        if block not in BLOCKS:
            raise ConfigError(f"block must be one of {BLOCKS}, got {block!r}")
        self.block = block

    def config(self) -> dict[str, Any]:
        """Constructor settings."""
        arch = {
            "hidden": self.hidden,
            "n_layers": self.n_layers,
            "n_heads": self.n_heads,
            "dropout": self.dropout,
            "block": self.block,
        }
        return {**super().config(), **arch}

    def _build_module(self) -> nn.Module:
        assert self.item_space_ is not None
        return SASRecNet(
            self.item_space_, self.max_len, self.hidden, self.n_layers, self.n_heads, self.dropout, self.block
        )
