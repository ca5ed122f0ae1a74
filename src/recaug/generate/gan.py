"""``GANSynthesizer`` ("gan"): CFGAN (Chae et al. 2018), a conditional GAN over purchase vectors.

Generator ``G(c_u, z) -> r_u`` maps a condition vector (the user's purchase vector) and noise to
a purchase vector; the discriminator ``D(r, c_u)`` tells real vectors from generated ones given
the same condition. G's output layer is *linear*, as in the authors' code: real vectors are
exactly 0/1, and a sigmoid output never reaches either, so D wins outright and G learns nothing
(on Beauty a sigmoid G ranked held-out items at NDCG@10 0.0007, about chance). D also learns
10x slower than G by default (``d_lr``), which keeps the game balanced on large catalogues.
Training is short (5 epochs) on purpose: D can always win by checking ``r == c_u`` and, as it
does, G drifts towards copying its condition and its ranking of unseen items decays. On Beauty
(validation NDCG@10 of G's scores, seed 0) 5 epochs gave 0.0129, 12 gave 0.0055, and 15 with
``d_lr=1e-3`` gave 0.0031; the authors also found the epoch count "quite sensitive".
On a new dataset, ``holdout_users=2000, epochs=15`` picks the epoch on held-back *training* users
instead (:mod:`recaug.generate.setbased`); its per-epoch score tracked G's validation NDCG@10
closely and chose epoch 5 on both Beauty and Toys (``benchmarks/README.md``).
The two CFGAN tricks that keep G from collapsing to "everything purchased" are both on by
default:

* **partial masking (PM)**: D sees ``G(c_u) * (e_u + k_u)``, where ``e_u`` marks the user's real
  items and ``k_u`` a random ``pm_ratio`` share of the unpurchased ones, so G must put ~0 there;
* **zero reconstruction (ZR)**: ``zr_weight * sum_{j in N_u} G(c_u)_j^2`` over another random
  ``zr_ratio`` share ``N_u`` of unpurchased items.

Training reuses :func:`recaug.models.training.fit_loop`: the loop steps G's optimiser, the
batch callback first takes ``d_steps`` discriminator steps with its own optimiser.
``loss_history_`` has ``g_loss``, ``d_loss`` and ``d_acc`` (share of generated vectors D calls
fake) per epoch.

* new users: condition = a random training user's vector with each item kept with probability
  ``condition_keep`` (``new_user_condition="user"``), or a pseudo-user of popular items drawn at
  random (``"noise"``); then a length from the training distribution and that many items from
  ``softmax(G logits / temperature)``. The training vectors are part of the saved state for
  ``"user"`` conditions.
* completion: condition = the user's own history; the top-scoring unseen items
  (``complete_temperature=0``, the default) or a tempered draw.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import nn

from recaug import columns as C
from recaug.data.interactions import Interactions
from recaug.errors import ConfigError
from recaug.generate._sampling import (
    SALT_COND,
    SALT_LATENT,
    SALT_PICK,
    gumbel_topk,
    normal_matrix,
    row_uniform,
    uniform_matrix,
)
from recaug.generate.base import module_state, unprefixed
from recaug.generate.registry import register
from recaug.generate.setbased import Holdout, SetSynthesizer
from recaug.models.inputs import sparse_rows_to_dense
from recaug.models.training import adam, fit_loop, seeded_torch

log = logging.getLogger("recaug.generate")
CONDITIONS = ("user", "noise")


class _Generator(nn.Module):
    def __init__(self, n_items: int, noise_dim: int, hidden: int) -> None:
        super().__init__()
        self.noise_dim = noise_dim
        self.net = nn.Sequential(
            nn.Linear(n_items + noise_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, n_items),
        )  # fmt: skip

    def forward(self, c: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Logits of the generated purchase vector."""
        return self.net(torch.cat([c, z], dim=1) if self.noise_dim else c)


class _Discriminator(nn.Module):
    def __init__(self, n_items: int, hidden: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(2 * n_items, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, 1),
        )

    def forward(self, r: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """Logit of "real"."""
        return self.net(torch.cat([r, c], dim=1)).squeeze(1)


class _BatchStats:
    """(G adversarial loss, D loss, D accuracy on generated rows) of every training batch, kept
    in training checkpoints so a resumed fit reports every epoch's losses."""

    def __init__(self) -> None:
        self.rows: list[tuple[float, float, float]] = []

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"rows": torch.tensor(self.rows, dtype=torch.float64).reshape(-1, 3)}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.rows = [(a, b, c) for a, b, c in state["rows"].tolist()]


@register
class GANSynthesizer(SetSynthesizer):
    """CFGAN generator with partial masking and zero reconstruction (see the module docstring)."""

    name = "gan"

    def __init__(
        self,
        *,
        hidden: int = 256,
        noise_dim: int = 32,
        pm_ratio: float = 0.5,
        zr_ratio: float = 0.5,
        zr_weight: float = 0.1,
        d_steps: int = 1,
        d_lr: float = 1e-4,
        new_user_condition: str = "user",
        condition_keep: float = 0.5,
        epochs: int = 5,
        batch_size: int = 256,
        lr: float = 1e-3,
        temperature: float = 1.0,
        complete_temperature: float = 0.0,
        complete_min_prob: float = 0.0,
        order: str = "greedy",
        holdout_users: int = 0,
        patience: int = 3,
        seed: int = 0,
        device: str = "auto",
        threads: int | None = None,
        progress: bool | None = None,
        checkpoint: str | None = None,
    ) -> None:
        super().__init__(
            temperature=temperature, complete_temperature=complete_temperature,
            complete_min_prob=complete_min_prob, order=order, holdout_users=holdout_users, patience=patience,
            epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, device=device, threads=threads,
            progress=progress, checkpoint=checkpoint,
        )  # fmt: skip
        if hidden < 1 or noise_dim < 0 or d_steps < 1:
            raise ConfigError("gan needs hidden >= 1, noise_dim >= 0, d_steps >= 1")
        for label, v in (("pm_ratio", pm_ratio), ("zr_ratio", zr_ratio), ("condition_keep", condition_keep)):
            if not 0 <= v <= 1:
                raise ConfigError(f"{label} must be in [0, 1], got {v}")
        if new_user_condition not in CONDITIONS:
            raise ConfigError(f"new_user_condition must be one of {CONDITIONS}, got {new_user_condition!r}")
        self.hidden = int(hidden)
        self.noise_dim = int(noise_dim)
        self.pm_ratio = float(pm_ratio)
        self.zr_ratio = float(zr_ratio)
        self.zr_weight = float(zr_weight)
        self.d_steps = int(d_steps)
        self.d_lr = float(d_lr)
        self.new_user_condition = new_user_condition
        self.condition_keep = float(condition_keep)
        self.generator_: _Generator | None = None
        self.discriminator_: _Discriminator | None = None
        self.matrix_: sp.csr_matrix | None = None

    def config(self) -> dict[str, Any]:
        """Constructor settings."""
        return {
            **super().config(),
            "hidden": self.hidden,
            "noise_dim": self.noise_dim,
            "pm_ratio": self.pm_ratio,
            "zr_ratio": self.zr_ratio,
            "zr_weight": self.zr_weight,
            "d_steps": self.d_steps,
            "d_lr": self.d_lr,
            "new_user_condition": self.new_user_condition,
            "condition_keep": self.condition_keep,
        }

    def _new_nets(self) -> None:
        assert self.item_space_ is not None
        with seeded_torch(self.seed):
            self.generator_ = _Generator(self.item_space_, self.noise_dim, self.hidden).to(self.torch_device)
            self.discriminator_ = _Discriminator(self.item_space_, self.hidden).to(self.torch_device)

    def _fit_net(self, train: Interactions, holdout: Holdout | None) -> None:
        matrix, users = self._training_matrix(train)
        self.matrix_ = matrix[users]
        self._new_nets()
        g, d = self.generator_, self.discriminator_
        assert g is not None and d is not None
        cfg = self.train_config
        d_opt = adam(d.parameters(), lr=self.d_lr)
        gen = torch.Generator().manual_seed(self.seed + 1)
        device = self.torch_device
        per_epoch = -(-len(users) // cfg.batch_size)
        stats = _BatchStats()

        def batch_loss(rows: torch.Tensor) -> torch.Tensor:
            x = sparse_rows_to_dense(matrix, users[rows.numpy()])
            b, n = x.shape
            unseen = x == 0
            unseen[:, : C.N_RESERVED] = False
            pm = ((torch.rand(b, n, generator=gen) < self.pm_ratio) & unseen).float().to(device)
            zr = ((torch.rand(b, n, generator=gen) < self.zr_ratio) & unseen).float().to(device)
            z = torch.randn(b, self.noise_dim, generator=gen).to(device)
            x = x.to(device)
            d.train()
            d.requires_grad_(True)
            for _ in range(self.d_steps):
                with torch.no_grad():
                    fake = g(x, z) * (x + pm)
                real_logit, fake_logit = d(x, x), d(fake, x)
                d_loss = F.binary_cross_entropy_with_logits(
                    real_logit, torch.ones_like(real_logit)
                ) + F.binary_cross_entropy_with_logits(fake_logit, torch.zeros_like(fake_logit))
                d_opt.zero_grad(set_to_none=True)
                d_loss.backward()
                d_opt.step()
            d.requires_grad_(False)
            out = g(x, z)
            fake_logit = d(out * (x + pm), x)
            g_adv = F.binary_cross_entropy_with_logits(fake_logit, torch.ones_like(fake_logit))
            g_zr = (out.pow(2) * zr).sum(dim=1).mean()
            d_acc = float((fake_logit.detach() < 0).float().mean())
            stats.rows.append((float(g_adv.detach()), float(d_loss.detach()), d_acc))
            if len(stats.rows) % per_epoch == 0:
                e = stats.rows[-per_epoch:]
                log.info(
                    "gan epoch %d: g_loss %.4f, d_loss %.4f, d_acc(generated) %.3f",
                    len(stats.rows) // per_epoch,
                    *(float(np.mean([s[i] for s in e])) for i in range(3)),
                )
            return g_adv + self.zr_weight * g_zr

        history = fit_loop(
            self, g, batch_loss, len(users), cfg, generator=gen, valid=holdout, data=(train,),
            extra_state={"discriminator": d, "d_optimizer": d_opt, "batch_stats": stats},
        )  # fmt: skip
        d.requires_grad_(True)
        d.eval()
        self.loss_history_ = []
        for h in history:
            e = stats.rows[(h["epoch"] - 1) * per_epoch : h["epoch"] * per_epoch]
            self.loss_history_.append({
                "epoch": h["epoch"], "loss": h["loss"], "seconds": h["seconds"],
                "g_loss": float(np.mean([s[0] for s in e])), "d_loss": float(np.mean([s[1] for s in e])),
                "d_acc": float(np.mean([s[2] for s in e])), "metric": h["metric"],
            })  # fmt: skip

    def _eval(self) -> None:
        assert self.generator_ is not None and self.discriminator_ is not None
        self.generator_.eval()
        self.discriminator_.eval()

    def _noise(self, users: np.ndarray, seed: int) -> torch.Tensor:
        if self.noise_dim == 0:
            return torch.zeros(len(users), 0)
        return normal_matrix(seed, users, self.noise_dim, SALT_LATENT)

    def _conditions(self, users: np.ndarray, seed: int) -> torch.Tensor:
        n = self.item_space_ or 0
        if self.new_user_condition == "user":
            assert self.matrix_ is not None
            pick = np.minimum((row_uniform(seed, users, SALT_PICK) * self.matrix_.shape[0]).astype(np.int64),
                              self.matrix_.shape[0] - 1)  # fmt: skip
            c = sparse_rows_to_dense(self.matrix_, pick)
            if self.condition_keep < 1:
                c = c * (uniform_matrix(seed, users, n, SALT_COND) < self.condition_keep).float()
            return c
        lengths = self.sample_lengths(users, seed + 1, int((self.item_counts_ > 0).sum()))
        with np.errstate(divide="ignore"):
            logits = torch.from_numpy(np.log(self.item_counts_)).float()
        logits = logits.expand(len(users), -1).clone()
        off, items = gumbel_topk(logits, users, lengths, seed, SALT_COND, 1.0)
        c = torch.zeros(len(users), n)
        c[torch.from_numpy(np.repeat(np.arange(len(users)), np.diff(off))), torch.from_numpy(items)] = 1.0
        return c

    def _new_user_logits(self, users: np.ndarray, seed: int) -> torch.Tensor:
        assert self.generator_ is not None
        c = self._conditions(users, seed).to(self.torch_device)
        return self.generator_(c, self._noise(users, seed).to(self.torch_device))

    def _history_logits(self, x: torch.Tensor, users: np.ndarray, seed: int) -> torch.Tensor:
        assert self.generator_ is not None
        return self.generator_(x, self._noise(users, seed).to(x.device))

    def _state(self) -> dict[str, Any]:
        assert self.generator_ is not None and self.discriminator_ is not None and self.matrix_ is not None
        state: dict[str, Any] = {**module_state("g", self.generator_), **module_state("d", self.discriminator_)}
        m = self.matrix_
        state.update({
            "cond.indptr": torch.from_numpy(m.indptr.astype(np.int64)),
            "cond.indices": torch.from_numpy(m.indices.astype(np.int64)),
        })  # fmt: skip
        return {**state, **self._order_state()}

    def _load_state(self, state: dict[str, Any]) -> None:
        self._new_nets()
        assert self.generator_ is not None and self.discriminator_ is not None
        self.generator_.load_state_dict(unprefixed("g", state))
        self.discriminator_.load_state_dict(unprefixed("d", state))
        indptr, indices = state["cond.indptr"].numpy(), state["cond.indices"].numpy()
        data = np.ones(len(indices), dtype=np.float32)
        self.matrix_ = sp.csr_matrix((data, indices, indptr), shape=(len(indptr) - 1, self.item_space_))
        self._eval()
        self._load_order_state(state)
