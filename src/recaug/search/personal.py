"""``PersonalSearch`` (``"personal"``): TEM-style personalised product search (Bi et al., 2020).

The query vector of :class:`~recaug.search.dense.DenseSearch` and the item vectors of the user's
``max_history`` most recent purchases (the same item tower: id embedding + text) go through a
small transformer encoder as ``[query; h_1; ...; h_H]`` (``h_1`` the most recent, a learned
slot embedding per position, PAD slots masked); its output at the query position is the
personalised query vector, scored against every item vector by dot product. Training, loss
(full softmax), early stopping and saving are the dense model's.

Histories:

* a **training** event's history is the user's earlier *training* events (time order, ties in
  input order; only ``source == "real"`` rows, as in the recommendation models' validation
  histories): never the event itself, never a later one, never a validation or test event;
* **scoring** reads a per-user table of the last ``max_history`` items of a history log. After
  ``fit`` it holds the training events, which is ``split.history("valid")``, so validation (and
  early stopping) sees exactly what the evaluation protocol allows. For the test events call
  ``model.use_history(split.history("test"))`` (train + valid) first; the CLI does.
* a user without history (or a code the table does not know) gets the transformer over the
  query alone: the same scores for every such user, which is this model's query-only path.

State on disk: the dense model's files, with the user history table in ``state.pt``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from recaug import columns as C
from recaug.errors import ConfigError
from recaug.search.base import register_search_model
from recaug.search.dense import DenseSearch
from recaug.search.log import SearchLog
from recaug.search.towers import (
    PersonalNet,
    TwoTowerNet,
    gather_history,
    history_index,
    user_history_table,
)


@register_search_model
class PersonalSearch(DenseSearch):
    """Dense retrieval with the query personalised by a transformer over the user's recent purchases (TEM)."""

    name = "personal"
    personalised = True

    def __init__(self, *, max_history: int = 10, n_layers: int = 1, n_heads: int = 2, **settings: Any) -> None:
        """Transformer settings; ``settings`` are :class:`DenseSearch`'s (``dim``, ``pooling`` ...,
        ``seed``, ``device``, training settings)."""
        super().__init__(**settings)
        if max_history < 0 or n_layers < 1 or n_heads < 1:
            raise ConfigError(f"need max_history >= 0, n_layers >= 1 and n_heads >= 1; got {max_history}, "
                              f"{n_layers}, {n_heads}")
        if self.dim % n_heads:
            raise ConfigError(f"dim ({self.dim}) must be divisible by n_heads ({n_heads})")
        self.max_history = int(max_history)
        self.n_layers = int(n_layers)
        self.n_heads = int(n_heads)
        #: (n_users, max_history) item codes per user, most recent first (PAD = none)
        self.user_history_: torch.Tensor | None = None
        self._train_history: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None

    def config(self) -> dict[str, Any]:
        """Constructor settings."""
        return {**super().config(), "max_history": self.max_history, "n_layers": self.n_layers,
                "n_heads": self.n_heads}

    def use_history(self, history: SearchLog) -> PersonalSearch:
        """Score with the users' histories from ``history`` (e.g. ``split.history("test")``); returns ``self``.

        Only the last ``max_history`` real events of each user are kept; users it lacks have none.
        """
        self._check_fitted()
        n_users = max(history.vocab.n_users, 0 if self.user_history_ is None else self.user_history_.shape[0])
        table = user_history_table(history.frame, n_users, self.max_history)
        self.user_history_ = torch.as_tensor(table, device=self.torch_device)
        return self

    def _build_module(self) -> TwoTowerNet:
        assert self.terms_ is not None and self.item_space_ is not None
        return PersonalNet(len(self.terms_), self.item_space_, self.dim, self.pooling, self.dropout,
                           max_history=self.max_history, n_layers=self.n_layers, n_heads=self.n_heads)

    def _prepare_events(self, train: SearchLog, order: np.ndarray) -> None:
        frame = train.frame
        users = frame.get_column(C.USER).to_numpy().astype(np.int64)[order]
        items = frame.get_column(C.ITEM).to_numpy().astype(np.int64)[order]
        real = (frame.get_column(C.SOURCE) == C.REAL).to_numpy()[order] if C.SOURCE in frame.columns else None
        real_items, before, start = history_index(users, items, np.ones(len(users), bool) if real is None else real)
        dev = self.torch_device
        self._train_history = tuple(torch.as_tensor(a, device=dev) for a in (real_items, before, start))
        table = user_history_table(frame, train.vocab.n_users, self.max_history)
        self.user_history_ = torch.as_tensor(table, device=dev)

    def fit(self, train: SearchLog, valid: SearchLog | None = None, *, item_space: int | None = None) -> PersonalSearch:
        """Train on ``train`` (each event personalised by the user's earlier training events); ``valid``
        only for early stopping (scored with the training histories). Afterwards the scoring
        histories are the training events (see :meth:`use_history`)."""
        try:
            super().fit(train, valid, item_space=item_space)
        finally:
            self._train_history = None  # training-only arrays
        return self

    def _query_vectors(
        self, module: TwoTowerNet, tokens: torch.Tensor, rows: torch.Tensor | None, users: np.ndarray | None,
        items: torch.Tensor,
    ) -> torch.Tensor:
        assert isinstance(module, PersonalNet)
        query = module.encode_queries(tokens)
        if rows is not None:
            assert self._train_history is not None
            real_items, before, start = self._train_history
            history = gather_history(real_items, before[rows], start[rows], self.max_history)
        else:
            history = self._lookup(users, tokens.shape[0], tokens.device)
        return module.personalise(query, history, items)

    def _lookup(self, users: np.ndarray | None, n: int, device: torch.device) -> torch.Tensor:
        """``(n, max_history)`` history item codes of ``users`` (PAD for unknown users or none given)."""
        table = self.user_history_
        if users is None or table is None or not table.shape[0]:
            return torch.zeros((n, self.max_history), dtype=torch.int64, device=device)
        u = torch.as_tensor(np.asarray(users, dtype=np.int64), device=device)
        known = (u >= 0) & (u < table.shape[0])
        rows = table[torch.where(known, u, torch.zeros_like(u))]
        return torch.where(known.unsqueeze(1), rows, torch.zeros_like(rows))

    def _extra_state(self) -> dict[str, torch.Tensor]:
        assert self.user_history_ is not None
        return {"user_history": self.user_history_}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        self.user_history_ = state["user_history"].to(self.torch_device)

