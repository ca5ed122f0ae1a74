"""``VAENet``: the Mult-VAE network (Liang et al. 2018) over bag-of-items vectors.

The API is ``encode(x) -> (mu, logvar)``, ``reparameterize``, ``decode(z) -> logits`` and
``sample_prior(n) -> z``, so both the Mult-VAE recommender and the VAE synthesizer use it:
the recommender folds a history in (``decode(encode(x).mu)``), the synthesizer decodes
draws from the prior.

The input ``x`` may be a dense ``(n, n_items)`` tensor or a sparse COO one (what training
uses): a user has a handful of the catalogue's items, so normalising, dropping out and
multiplying only the non-zero entries gives the same first layer (dropout of a zero is zero)
for a fraction of the work; that layer and its input dropout were most of a training step.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def _mlp(dims: Sequence[int]) -> nn.ModuleList:
    return nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:], strict=True))


class VAENet(nn.Module):
    """Encoder ``n_items -> hidden... -> 2 x latent`` and mirrored decoder, tanh activations.

    The input is L2-normalised and dropped out (``dropout``) before encoding, as in the paper.
    """

    def __init__(
        self, n_items: int, hidden_dims: Sequence[int] = (600,), latent_dim: int = 200, dropout: float = 0.5
    ) -> None:
        super().__init__()
        self.n_items = n_items
        self.latent_dim = latent_dim
        self.encoder = _mlp([n_items, *hidden_dims, 2 * latent_dim])
        self.decoder = _mlp([latent_dim, *reversed(hidden_dims), n_items])
        self.dropout = nn.Dropout(dropout)
        for layer in [*self.encoder, *self.decoder]:
            nn.init.xavier_normal_(layer.weight)
            nn.init.normal_(layer.bias, std=0.001)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior mean and log-variance for bag-of-items rows ``x`` (n, n_items), dense or sparse."""
        first, *rest = self.encoder
        if x.is_sparse:
            x = x.coalesce()
            index, values = x.indices(), x.values()
            norms = torch.zeros(x.shape[0], device=values.device).index_add_(0, index[0], values * values)
            values = self.dropout(values / norms.sqrt().clamp_min(1e-12)[index[0]])
            dropped = torch.sparse_coo_tensor(index, values, x.shape, is_coalesced=True, check_invariants=False)
            h = torch.sparse.mm(dropped, first.weight.T) + first.bias
        else:
            h = first(self.dropout(F.normalize(x, dim=1)))
        for layer in rest:
            h = layer(torch.tanh(h))
        return h[:, : self.latent_dim], h[:, self.latent_dim :]

    def reparameterize(self, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """``mu + sigma * eps`` in training mode, ``mu`` in eval mode."""
        if not self.training:
            return mu
        return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Unnormalised item logits (n, n_items) for latent codes ``z``."""
        h = z
        for i, layer in enumerate(self.decoder):
            h = layer(h)
            if i < len(self.decoder) - 1:
                h = torch.tanh(h)
        return h

    def sample_prior(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` latent codes from the standard normal prior (on the network's device)."""
        device = next(self.parameters()).device
        return torch.randn(n, self.latent_dim, generator=generator).to(device)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(logits, mu, logvar)``."""
        mu, logvar = self.encode(x)
        return self.decode(self.reparameterize(mu, logvar)), mu, logvar

    @staticmethod
    def loss(
        logits: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, beta: float
    ) -> torch.Tensor:
        """Multinomial negative log-likelihood plus ``beta`` x KL(q(z|x) || N(0, I)), batch mean.

        ``x`` (the input counts or weights) may be dense or sparse COO.
        """
        log_probs = F.log_softmax(logits, dim=1)
        if x.is_sparse:
            x = x.coalesce()
            rows, cols = x.indices()
            nll = -(log_probs[rows, cols] * x.values()).sum() / x.shape[0]
        else:
            nll = -(log_probs * x).sum(dim=1).mean()
        kl = (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(dim=1)).mean()
        return nll + beta * kl
