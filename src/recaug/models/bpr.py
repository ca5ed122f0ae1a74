"""``BPRMF``: matrix factorisation trained with Bayesian personalised ranking (Rendle et al. 2009).

Score = user vector . item vector + item bias. One training row per training interaction,
paired with a uniformly sampled item the user has not interacted with; a ``weight`` column
(e.g. down-weighted synthetic rows from the fuser) scales each row's share of the loss. Users the model has
no vector for (unknown codes, or no training rows) are folded in as the mean vector of their
history items, or the mean user vector when the history is empty.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from recaug import columns as C
from recaug.data.interactions import Interactions
from recaug.data.sequences import Sequences
from recaug.errors import ConfigError
from recaug.models.base import register
from recaug.models.inputs import finish_scores, row_weights
from recaug.models.losses import uniform_items
from recaug.models.neural import NeuralRecommender


class _MFNet(nn.Module):
    def __init__(self, n_users: int, item_space: int, dim: int) -> None:
        super().__init__()
        self.user_embedding = nn.Embedding(max(n_users, 1), dim)
        self.item_embedding = nn.Embedding(item_space, dim, padding_idx=C.PAD_ID)
        self.item_bias = nn.Embedding(item_space, 1, padding_idx=C.PAD_ID)
        nn.init.normal_(self.user_embedding.weight, std=0.1)
        nn.init.normal_(self.item_embedding.weight, std=0.1)
        nn.init.zeros_(self.item_bias.weight)
        with torch.no_grad():
            self.item_embedding.weight[C.PAD_ID].zero_()


@register
class BPRMF(NeuralRecommender):
    """BPR matrix factorisation; ``reg`` is the L2 penalty on the embeddings used in a batch."""

    name = "bpr"
    train_defaults = {"epochs": 200, "batch_size": 1024, "lr": 1e-3, "patience": 10}

    def __init__(
        self, *, dim: int = 64, reg: float = 1e-5, seed: int = 0, device: str = "auto", **train: Any
    ) -> None:
        super().__init__(seed=seed, device=device, **train)
        if dim < 1 or reg < 0:
            raise ConfigError("BPRMF needs dim >= 1 and reg >= 0")
        self.dim = dim
        self.reg = reg
        self.n_users_: int = 0
        self.known_users_: torch.Tensor | None = None

    def config(self) -> dict[str, Any]:
        """Constructor settings."""
        return {**super().config(), "dim": self.dim, "reg": self.reg}

    def _build_module(self) -> nn.Module:
        assert self.item_space_ is not None
        return _MFNet(self.n_users_, self.item_space_, self.dim)

    def _extra_state(self) -> dict[str, Any]:
        return {"n_users": self.n_users_, "known_users": self.known_users_}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        self.n_users_ = int(state["n_users"])
        self.known_users_ = state["known_users"].bool()

    def fit(
        self, train: Interactions, valid: Interactions | None = None, *, item_space: int | None = None
    ) -> BPRMF:
        """Train on (user, positive, sampled negative) triples, weighted by ``weight`` if present."""
        self.item_space_ = n = self._item_space(train, valid, item_space)
        users = torch.from_numpy(train.users.astype(np.int64))
        items = torch.from_numpy(train.items.astype(np.int64))
        weights = row_weights(train)
        row_weight = None if weights is None else torch.from_numpy(weights)
        self.n_users_ = int(users.max()) + 1 if len(users) else 0
        self.known_users_ = torch.zeros(self.n_users_, dtype=torch.bool)
        self.known_users_[users] = True
        self.module_ = net = self._new_module()
        seen = torch.unique(users * n + items)  # sorted (user, item) keys
        device, gen = self.torch_device, self._generator()

        def batch_loss(rows: torch.Tensor) -> torch.Tensor:
            u, i = users[rows], items[rows]
            j = uniform_items((len(rows),), n, gen)
            for _ in range(3):  # redraw negatives the user has interacted with
                keys = u * n + j
                pos = torch.searchsorted(seen, keys).clamp_max(len(seen) - 1)
                clash = seen[pos] == keys
                if not bool(clash.any()):
                    break
                j[clash] = uniform_items((int(clash.sum()),), n, gen)
            u, i, j = u.to(device), i.to(device), j.to(device)
            pu, qi, qj = net.user_embedding(u), net.item_embedding(i), net.item_embedding(j)
            diff = (pu * (qi - qj)).sum(-1) + (net.item_bias(i) - net.item_bias(j)).squeeze(-1)
            penalty = pu.pow(2).sum() + qi.pow(2).sum() + qj.pow(2).sum()
            fit = F.logsigmoid(diff)
            if row_weight is not None:
                fit = fit * row_weight[rows].to(device)
            return -fit.mean() + self.reg * penalty / len(rows)

        self._train(batch_loss, len(users), train, valid, gen)
        return self

    def _score_all(self, histories: Sequences) -> torch.Tensor:
        """User vectors (or folded-in history means) times item vectors, plus item bias."""
        with self._inference() as net:
            assert self.known_users_ is not None
            n, device = self.item_space_, self.torch_device
            users = torch.from_numpy(histories.users.astype(np.int64))
            in_range = (users >= 0) & (users < self.n_users_)
            known = torch.zeros(len(users), dtype=torch.bool)
            known[in_range] = self.known_users_[users[in_range]]
            user_w = net.user_embedding.weight
            mean_user = (
                user_w[self.known_users_.to(device)].mean(0)
                if bool(self.known_users_.any())
                else user_w[0] * 0
            )
            vectors = mean_user.expand(len(users), -1).clone()
            vectors[known.to(device)] = net.user_embedding(users[known].to(device))
            # fold in unknown users with a history: mean of their (known) history item vectors
            items = torch.from_numpy(histories.items.astype(np.int64))
            rows = torch.from_numpy(np.repeat(np.arange(len(histories)), histories.lengths))
            ok = (items >= C.N_RESERVED) & (items < n) & ~known[rows]
            if bool(ok.any()):
                sums = torch.zeros(len(users), self.dim, device=device)
                sums.index_add_(0, rows[ok].to(device), net.item_embedding(items[ok].to(device)))
                counts = torch.bincount(rows[ok], minlength=len(users)).to(device)
                has = counts > 0
                vectors[has] = sums[has] / counts[has].unsqueeze(1)
            scores = vectors @ net.item_embedding.weight.T + net.item_bias.weight.view(1, -1)
        return finish_scores(scores)
