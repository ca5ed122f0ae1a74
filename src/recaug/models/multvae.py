"""``MultVAE`` (Liang et al. 2018): a variational autoencoder over each user's set of items.

Training maximises the multinomial likelihood of the user's training items with a KL term
annealed linearly from 0 to ``anneal_cap`` over ``total_anneal_steps`` updates. A ``weight``
column (e.g. down-weighted synthetic rows from the fuser) becomes the item's entry in the
user's input vector and its share of the likelihood. At score time
the history is folded in: ``decode(encode(history).mu)``, so unknown users and new histories
need no user parameters (an empty history decodes the network's bias: a popularity-like row).
The network lives in :mod:`recaug.models.nets.vae` for reuse by the VAE synthesizer.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from recaug.data.interactions import Interactions
from recaug.data.sequences import Sequences
from recaug.errors import ConfigError
from recaug.models.base import register
from recaug.models.inputs import finish_scores, history_matrix, sparse_rows_to_torch, user_item_matrix
from recaug.models.nets.vae import VAENet
from recaug.models.neural import NeuralRecommender


@register
class MultVAE(NeuralRecommender):
    """Mult-VAE with the paper's defaults (600-200-600, tanh, dropout 0.5, beta cap 0.2)."""

    name = "multvae"
    train_defaults = {"epochs": 200, "batch_size": 500, "lr": 1e-3, "patience": 10}
    #: rows folded in at once in :meth:`score`
    score_batch = 2048

    def __init__(
        self,
        *,
        hidden_dims: list[int] | tuple[int, ...] = (600,),
        latent_dim: int = 200,
        dropout: float = 0.5,
        anneal_cap: float = 0.2,
        total_anneal_steps: int = 200_000,
        seed: int = 0,
        device: str = "auto",
        **train: Any,
    ) -> None:
        super().__init__(seed=seed, device=device, **train)
        if latent_dim < 1 or total_anneal_steps < 1 or not 0 <= anneal_cap:
            raise ConfigError("MultVAE needs latent_dim >= 1, total_anneal_steps >= 1, anneal_cap >= 0")
        self.hidden_dims = [int(h) for h in hidden_dims]
        self.latent_dim = latent_dim
        self.dropout = dropout
        self.anneal_cap = anneal_cap
        self.total_anneal_steps = total_anneal_steps

    def config(self) -> dict[str, Any]:
        """Constructor settings."""
        return {
            **super().config(),
            "hidden_dims": list(self.hidden_dims),
            "latent_dim": self.latent_dim,
            "dropout": self.dropout,
            "anneal_cap": self.anneal_cap,
            "total_anneal_steps": self.total_anneal_steps,
        }

    def _build_module(self) -> nn.Module:
        assert self.item_space_ is not None
        return VAENet(self.item_space_, self.hidden_dims, self.latent_dim, self.dropout)

    def fit(
        self, train: Interactions, valid: Interactions | None = None, *, item_space: int | None = None
    ) -> MultVAE:
        """Train on the bag of training items of every user, KL weight annealed per update."""
        self.item_space_ = self._item_space(train, valid, item_space)
        n_users = int(train.users.max()) + 1 if len(train) else 0
        matrix = user_item_matrix(train, n_users, self.item_space_, weighted=True)
        users = np.flatnonzero(np.diff(matrix.indptr) > 0)
        self.module_ = net = self._new_module()
        device, step = self.torch_device, [0]

        def batch_loss(rows: torch.Tensor) -> torch.Tensor:
            x = sparse_rows_to_torch(matrix, users[rows.numpy()]).to(device)
            beta = min(self.anneal_cap, step[0] / self.total_anneal_steps)
            step[0] += 1
            logits, mu, logvar = net(x)
            return VAENet.loss(logits, x, mu, logvar, beta)

        batches = -(-len(users) // self.train_config.batch_size)

        def on_epoch(epoch: int) -> None:  # updates so far (also right when a checkpoint resumes)
            step[0] = (epoch - 1) * batches

        self._train(batch_loss, len(users), train, valid, self._generator(), on_epoch=on_epoch)
        return self

    def _score_all(self, histories: Sequences) -> torch.Tensor:
        """Fold the history in: decoder logits at the posterior mean."""
        with self._inference() as net:
            matrix = history_matrix(histories, self.item_space_)
            out = []
            for lo in range(0, len(histories), self.score_batch):
                x = sparse_rows_to_torch(matrix, np.arange(lo, min(lo + self.score_batch, len(histories))))
                mu, _ = net.encode(x.to(self.torch_device))
                out.append(net.decode(mu).cpu())
            scores = torch.cat(out) if out else torch.zeros(0, self.item_space_)
        return finish_scores(scores)
