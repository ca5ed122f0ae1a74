"""``DenseSearch`` (``"dense"``): a two-tower retrieval model trained on (query, item) search events.

Towers (:class:`recaug.search.towers.TwoTowerNet`): the query is the pooled embedding of its
words (``pooling="mean"`` or ``"attention"``) through a linear map; an item is its id embedding
plus the mean embedding of the words of its text (``text_column`` of the item table). Query
words and item words share one embedding table over a :class:`TermVocabulary` built from the
**training** queries and the item texts (the item table is side data, not events). Words the
vocabulary lacks are dropped; a query with no known word scores by the query map's bias alone
(finite, the same for every such query).

Items with no training event get the text part only (their id embedding is masked to 0), so a
cold item is found through its words, and an untrained random id vector never decides its rank.

Loss: full softmax cross-entropy over the whole catalogue (:func:`recaug.models.losses.next_item_loss`
with ``"ce"``; on CPU :func:`recaug.search.towers.fused_softmax_ce`, the same loss with its
gradients computed chunk by chunk in the forward pass). At 12k-18k items the logits of a batch
are a few MB and one matrix product, so the exact objective is affordable; in-batch softmax would be cheaper but samples negatives by
popularity (popular items are over-penalised unless a logQ correction is added) and can draw the
positive itself as a negative when a batch repeats an item. A ``weight`` column (the fuser's
down-weighted synthetic rows) is each event's share of the loss.

Training is :func:`recaug.models.training.fit_loop` (shuffled mini-batches, Adam, early stopping
on validation ``valid_metric`` with ``patience``, best weights restored, checkpoints, progress
lines); the training settings are :class:`~recaug.models.training.TrainConfig`'s, given as
constructor keywords. Early stopping ranks every event of ``valid`` (the log passed as
``fit(train, valid)``, i.e. ``split.valid``) among all items with the recommendation ranking
(:mod:`recaug.evaluate.ranking`) and no masking, which is the :class:`SearchEvaluator`'s rule
(pessimistic ties, PAD/MASK never candidates, nothing masked), so the early-stopping value equals
``SearchEvaluator().evaluate(model, split, "valid")``'s metric for the restored weights.

State on disk: ``config.json``, ``terms.json`` (the vocabulary) and ``state.pt`` (the network's
weights, the item text CSR arrays and the warm-item mask; loaded with ``weights_only=True``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import polars as pl
import torch

from recaug import columns as C
from recaug.data.sequences import Sequences
from recaug.errors import ConfigError, DataError
from recaug.models import losses
from recaug.models.base import resolve_device
from recaug.models.inputs import row_weights
from recaug.models.training import TrainConfig, fit_loop, inference, seeded_torch
from recaug.search.base import SearchModel, register_search_model
from recaug.search.log import SearchLog
from recaug.search.tokenize import TermVocabulary, dedupe_keep_last, tokenize
from recaug.search.towers import (
    POOLINGS,
    TwoTowerNet,
    distinct_index,
    event_order,
    fused_softmax_ce,
    padded_ids,
    text_mean_matrix,
)

log = logging.getLogger("recaug.search")

#: queries scored per forward pass (bounds the (queries x items) block in memory)
SCORE_CHUNK = 2048


def next_item_loss(
    hidden: torch.Tensor, targets: torch.Tensor, item_weight: torch.Tensor, loss: str,
    weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """The training loss: :func:`recaug.models.losses.next_item_loss`, with ``"ce"`` on CPU computed by
    :func:`recaug.search.towers.fused_softmax_ce` (same value and gradients up to float rounding,
    about 1.5x faster; on CUDA one plain matrix product is faster)."""
    if loss == "ce" and hidden.device.type == "cpu":
        return fused_softmax_ce(hidden, item_weight, targets, weights)
    return losses.next_item_loss(hidden, targets, item_weight, loss, weights=weights)


class _FitView:
    """What :func:`fit_loop` sees as "the model": the search model's attributes, plus
    ``score(histories)`` that scores the validation events whose row numbers are ``histories.users``.

    ``fit_loop`` validates with the recommendation ranking, which calls ``model.score(Sequences)``;
    a validation row here has an empty history (nothing masked) and its ``user`` is the row number
    of the validation event, so the ranking is the search evaluator's over ``split.valid``.
    Attribute writes (``history_``, ``best_epoch_`` ...) go to the search model.
    """

    #: the schedule does not read ``epochs``: a checkpoint may be continued under a higher cap
    epochs_in_schedule = False

    def __init__(self, model: DenseSearch, queries: pl.Series, users: np.ndarray) -> None:
        object.__setattr__(self, "_model", model)
        object.__setattr__(self, "_queries", queries)
        object.__setattr__(self, "_users", users)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._model, name, value)

    def score(self, histories: Sequences) -> np.ndarray:
        """Scores of the validation events ``histories.users`` (row numbers)."""
        rows = histories.users.astype(np.int64)
        users = self._users[rows] if self._model.personalised else None
        return self._model.score(self._queries.gather(rows), users)


def _fit_view(model: DenseSearch, queries: pl.Series, users: np.ndarray) -> _FitView:
    """A :class:`_FitView` whose class bears the model's class name (progress lines, checkpoint fingerprints)."""
    cls = type(type(model).__name__, (_FitView,), {"__module__": _FitView.__module__})
    return cls(model, queries, users)


@register_search_model
class DenseSearch(SearchModel):
    """Two-tower dense retrieval: query words -> vector, item id + item words -> vector, dot product."""

    name = "dense"
    #: overrides of :class:`TrainConfig`'s defaults
    train_defaults: ClassVar[dict[str, Any]] = {"epochs": 30, "batch_size": 256, "lr": 1e-3, "patience": 3}
    #: the schedule does not read ``epochs`` (see :func:`recaug.models.checkpoint.epochs_in_schedule`)
    epochs_in_schedule: ClassVar[bool] = False

    def __init__(
        self,
        *,
        dim: int = 64,
        pooling: str = "mean",
        dropout: float = 0.1,
        max_query_len: int = 16,
        text_column: str = "text",
        seed: int = 0,
        device: str = "auto",
        **train: Any,
    ) -> None:
        """Network settings; ``train`` are :class:`~recaug.models.training.TrainConfig` settings
        (``epochs``, ``batch_size``, ``lr``, ``patience``, ``eval_every``, ``threads`` ...)."""
        super().__init__(seed=seed, device=device)
        if pooling not in POOLINGS:
            raise ConfigError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        if dim < 1 or max_query_len < 1 or not 0.0 <= dropout < 1.0:
            raise ConfigError(f"need dim >= 1, max_query_len >= 1 and 0 <= dropout < 1; got dim={dim}, "
                              f"max_query_len={max_query_len}, dropout={dropout}")
        if device not in ("auto", "cpu") and not device.startswith("cuda"):
            raise ConfigError(f"device must be 'auto', 'cpu' or 'cuda[:N]', got {device!r}")
        unknown = set(train) - set(TrainConfig.keys())
        if unknown:
            raise ConfigError(f"{type(self).__name__} got unknown setting(s) {sorted(unknown)}")
        self.dim = int(dim)
        self.pooling = pooling
        self.dropout = float(dropout)
        self.max_query_len = int(max_query_len)
        self.text_column = text_column
        self.train_config = TrainConfig(**{**self.train_defaults, **train})
        self.terms_: TermVocabulary | None = None
        self.module_: TwoTowerNet | None = None
        self.text_ids_: torch.Tensor | None = None
        self.text_offsets_: torch.Tensor | None = None
        #: (text_ids_, text_offsets_, their mean matrix): rebuilt when either tensor is replaced
        self._text_matrix: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None
        self.warm_: torch.Tensor | None = None
        self.history_: list[dict[str, Any]] = []
        self.best_epoch_: int | None = None
        self.seconds_: dict[str, float] = {}

    @classmethod
    def settings_fields(cls) -> dict[str, tuple[Any, Any]]:
        """Constructor settings plus the training settings of :class:`TrainConfig` (``**train``)."""
        from recaug.settings import component_fields

        return component_fields(cls, extra=TrainConfig.settings_fields(cls.train_defaults))

    def config(self) -> dict[str, Any]:
        """Constructor settings, training settings included."""
        return {**super().config(), "dim": self.dim, "pooling": self.pooling, "dropout": self.dropout,
                "max_query_len": self.max_query_len, "text_column": self.text_column,
                **self.train_config.to_dict()}

    @property
    def torch_device(self) -> torch.device:
        """The resolved device (``"auto"`` -> CUDA when available)."""
        return resolve_device(self.device)

    # -- hooks for the personalised subclass ------------------------------------------------
    def _build_module(self) -> TwoTowerNet:
        assert self.terms_ is not None and self.item_space_ is not None
        return TwoTowerNet(len(self.terms_), self.item_space_, self.dim, self.pooling, self.dropout)

    def _prepare_events(self, train: SearchLog, order: np.ndarray) -> None:
        """Per-event training inputs beyond query and target (the personalised model's histories)."""

    def _query_vectors(
        self, module: TwoTowerNet, tokens: torch.Tensor, rows: torch.Tensor | None, users: np.ndarray | None,
        items: torch.Tensor,
    ) -> torch.Tensor:
        """Query vectors of ``tokens``; ``rows`` are training event numbers (training) or ``None``
        (scoring, with ``users``)."""
        return module.encode_queries(tokens)

    def _extra_state(self) -> dict[str, torch.Tensor]:
        return {}

    def _text(self) -> torch.Tensor:
        """The item-text mean matrix (:func:`text_mean_matrix`) of ``text_offsets_`` / ``text_ids_``,
        built once per fitted or loaded state (a constant of the model, not a weight)."""
        assert self.text_ids_ is not None and self.text_offsets_ is not None and self.terms_ is not None
        cached = self._text_matrix
        if cached is None or cached[0] is not self.text_ids_ or cached[1] is not self.text_offsets_:
            matrix = text_mean_matrix(self.text_offsets_, self.text_ids_, len(self.terms_) + 1)
            cached = self._text_matrix = (self.text_ids_, self.text_offsets_, matrix)
        return cached[2]

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        pass

    # -- fit ----------------------------------------------------------------------------------
    def _query_tokens(self, queries: pl.Series) -> np.ndarray:
        assert self.terms_ is not None
        offsets, ids = self.terms_.encode(tokenize(queries))
        return padded_ids(offsets, ids, self.max_query_len)

    def _new_module(self) -> TwoTowerNet:
        with seeded_torch(self.seed):
            return self._build_module().to(self.torch_device)

    def fit(self, train: SearchLog, valid: SearchLog | None = None, *, item_space: int | None = None) -> DenseSearch:
        """Train on the events of ``train`` (and its item text); ``valid`` only for early stopping."""
        t0 = time.perf_counter()
        space = self._item_space(train, item_space)
        frame = train.frame.filter((pl.col(C.ITEM) >= C.N_RESERVED) & (pl.col(C.ITEM) < space))
        if not len(frame):
            raise DataError("no training search event with an item inside the item space", column=C.ITEM,
                            expected=f"item codes in [{C.N_RESERVED}, {space})")
        train = train.with_frame(frame)
        order = event_order(frame)
        text = train.item_text(self.text_column).head(space)
        if len(text) < space:  # a larger item space than the log's vocabulary: the extra items have no text
            text = text.extend_constant(None, space - len(text))
        item_tokens = dedupe_keep_last(tokenize(text))
        distinct, where = distinct_index(frame.get_column(C.QUERY).gather(order))
        query_tokens = tokenize(distinct)
        terms = TermVocabulary.build(pl.concat([query_tokens, item_tokens]))
        if not len(terms):
            raise DataError("no word in the training queries or the item texts", column=C.QUERY,
                            expected="queries or item text with letters")
        self.terms_ = terms
        self.item_space_ = space
        text_offsets, text_ids = terms.encode(item_tokens)
        targets = frame.get_column(C.ITEM).to_numpy().astype(np.int64)[order]
        warm = np.bincount(targets, minlength=space)[:space] > 0
        weights = row_weights(train.interactions)
        dev = self.torch_device
        self.text_ids_ = torch.as_tensor(text_ids + 1, dtype=torch.int64, device=dev)
        self.text_offsets_ = torch.as_tensor(text_offsets, dtype=torch.int64, device=dev)
        self.warm_ = torch.as_tensor(warm, device=dev)
        q_tokens = torch.as_tensor(padded_ids(*terms.encode(query_tokens), self.max_query_len), device=dev)
        q_index = torch.as_tensor(where, device=dev)
        t_targets = torch.as_tensor(targets, device=dev)
        t_weights = None if weights is None or bool((weights == 1.0).all()) else torch.as_tensor(
            weights[order], device=dev)
        self._prepare_events(train, order)
        self.module_ = self._new_module()
        module = self.module_
        log.info(
            "%s: %d training events, %d distinct queries, %d terms, %d items (%d with training events)",
            self.name, len(frame), len(distinct), len(terms), space - C.N_RESERVED, int(warm.sum()),
        )  # fmt: skip

        text = self._text()

        def batch_loss(rows: torch.Tensor) -> torch.Tensor:
            rows = rows.to(dev)
            items = module.item_vectors(text, self.warm_)
            hidden = self._query_vectors(module, q_tokens[q_index[rows]], rows, None, items)
            w = None if t_weights is None else t_weights[rows]
            return next_item_loss(hidden, t_targets[rows], items, "ce", weights=w)

        val = None
        view: Any = self
        if valid is not None and len(valid):
            vframe = valid.frame
            n_val = len(vframe)
            val = (Sequences(offsets=np.zeros(n_val + 1, np.int64), items=np.zeros(0, np.int32),
                             users=np.arange(n_val)), vframe.get_column(C.ITEM).to_numpy().astype(np.int64))
            view = _fit_view(self, vframe.get_column(C.QUERY), vframe.get_column(C.USER).to_numpy().astype(np.int64))
        generator = torch.Generator().manual_seed(int(self.seed) + 1)
        fit_loop(
            view, module, batch_loss, len(frame), self.train_config, generator=generator, valid=val,
            data=(train.interactions, None if valid is None else valid.interactions, text_ids),
        )  # fmt: skip
        self.seconds_ = {"fit": time.perf_counter() - t0}
        log.info("%s: fitted in %.1f s (best epoch %s)", self.name, self.seconds_["fit"], self.best_epoch_)
        return self

    # -- scoring ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _inference(self) -> Iterator[TwoTowerNet]:
        assert self.module_ is not None
        with inference(self.module_, self.train_config.threads) as module:
            yield module  # type: ignore[misc]

    def _score(self, queries: pl.Series, users: np.ndarray | None) -> np.ndarray:
        assert self.item_space_ is not None
        out = np.empty((len(queries), self.item_space_), dtype=np.float32)
        with self._inference() as module:
            items = module.item_vectors(self._text(), self.warm_)
            for lo in range(0, len(queries), SCORE_CHUNK):
                hi = min(lo + SCORE_CHUNK, len(queries))
                tokens = torch.as_tensor(self._query_tokens(queries.slice(lo, hi - lo)), device=items.device)
                q = self._query_vectors(module, tokens, None, None if users is None else users[lo:hi], items)
                out[lo:hi] = (q @ items.T).cpu().numpy()
        return out

    # -- persistence --------------------------------------------------------------------------
    def _save_state(self, folder: Path) -> None:
        assert self.terms_ is not None and self.module_ is not None
        (folder / "terms.json").write_text(json.dumps(self.terms_.terms.to_list()), encoding="utf-8")
        state: dict[str, Any] = {"module." + k: v.detach().cpu().clone() for k, v in self.module_.state_dict().items()}
        state["text_ids"] = self.text_ids_.cpu()
        state["text_offsets"] = self.text_offsets_.cpu()
        state["warm"] = self.warm_.cpu()
        state.update({k: v.cpu() for k, v in self._extra_state().items()})
        torch.save(state, folder / "state.pt")

    def _load_state(self, folder: Path) -> None:
        for name in ("terms.json", "state.pt"):
            if not (folder / name).is_file():
                raise DataError(f"missing {type(self).__name__} state file", file=folder / name,
                                expected=f"a folder written by {type(self).__name__}.save")
        self.terms_ = TermVocabulary(json.loads((folder / "terms.json").read_text(encoding="utf-8")))
        state = torch.load(folder / "state.pt", map_location="cpu", weights_only=True)
        dev = self.torch_device
        self.text_ids_ = state["text_ids"].to(dev)
        self.text_offsets_ = state["text_offsets"].to(dev)
        self.warm_ = state["warm"].to(dev)
        self._load_extra_state(state)
        module = self._new_module()
        module.load_state_dict({k[len("module."):]: v for k, v in state.items() if k.startswith("module.")})
        module.eval()
        self.module_ = module
