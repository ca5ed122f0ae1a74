"""The ``Synthesizer`` contract every generator follows.

* ``fit(train, *, item_space=None, items=None) -> self``: learn from ``train`` only (pass
  ``split.train``); ``items`` is an optional item table (``item_id`` codes, ``category``) that
  enables ``condition={"category": c}``.
* ``sample(n_users=None, seed=0, condition=None, *, first_user=None) -> Interactions``: rows of
  ``n_users`` **new** synthetic users (default: as many as there were training users). Their
  codes are ``first_user, first_user + 1, ...``; ``first_user`` defaults to ``n_users_``, one past
  the largest training user code, so they never collide with a real user of ``train``.
  Timestamps are positions ``0, 1, ...`` within each new user.
* ``complete(histories, k, seed=0) -> Interactions``: ``k`` plausible extra items for every
  existing user of ``histories`` (fewer only when fewer eligible items exist), never an item
  already in that user's history. Rows are placed *before* the user's first interaction
  (timestamps ``t0 - m, ..., t0 - 1``), ASReP style, unless a synthesizer says otherwise.
* Every returned row has ``source = <synthesizer name>``; only items seen in ``train`` are
  ever generated (never PAD/MASK, never a held-out-only item).
* Randomness: each synthetic user draws from streams keyed by ``(seed, user code)``, so the
  rows of a user do not depend on the other users asked for or on batch sizes.
* ``save(dir)`` / ``load(dir)``: ``config.json`` (settings + learned sizes) and ``state.pt``
  (tensors only, loaded with ``weights_only=True``).
* ``loss_history_``: one dict per training epoch.
* ``checkpoint=PATH`` (constructor): training saves its state there after every epoch, and a
  killed fit started again continues from it (:mod:`recaug.models.checkpoint`); not a setting
  of the fitted synthesizer, so ``config()`` leaves it out.
"""

from __future__ import annotations

import json
import logging
import time
import zlib
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import polars as pl
import torch

from recaug import atomic
from recaug import columns as C
from recaug.data.interactions import Interactions
from recaug.data.sequences import Sequences
from recaug.errors import ConfigError, DataError, NotFittedError
from recaug.generate._sampling import SALT_LENGTH, inverse_cdf, row_uniform
from recaug.models.base import resolve_device
from recaug.models.training import TrainConfig

log = logging.getLogger("recaug.generate")

CONDITION_KEYS = ("category",)


def empty_interactions(source: str) -> Interactions:
    """Zero rows with the canonical columns."""
    return rows_to_interactions(np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0, np.int64), source)


def rows_to_interactions(users: np.ndarray, items: np.ndarray, ts: np.ndarray, source: str) -> Interactions:
    """Long rows tagged ``source``."""
    frame = pl.DataFrame(
        {
            C.USER: np.asarray(users, dtype=np.int32),
            C.ITEM: np.asarray(items, dtype=np.int32),
            C.TIME: np.asarray(ts, dtype=np.int64),
            C.SOURCE: pl.Series([source] * len(users), dtype=pl.Utf8),
        }
    )
    return Interactions(frame)


def short_histories(train: Interactions, max_history: int) -> Interactions:
    """The rows of users with at most ``max_history`` interactions in ``train``.

    These are the users completion is for: ``synth.complete(short_histories(split.train, 5), k)``.
    """
    if max_history < 0:
        raise ConfigError(f"max_history must be >= 0, got {max_history}")
    return Interactions(train.frame.filter(pl.len().over(C.USER) <= max_history))


def as_sequences(histories: Interactions | Sequences) -> Sequences:
    """``Sequences`` view of ``histories`` (one row per user for ``Interactions``)."""
    if isinstance(histories, Sequences):
        return histories
    if isinstance(histories, Interactions):
        return Sequences.from_interactions(histories)
    raise DataError(f"histories must be Interactions or Sequences, got {type(histories).__name__}")


def first_times(seqs: Sequences) -> np.ndarray:
    """Earliest timestamp of every row (0 for rows without timestamps or items)."""
    if seqs.timestamps is None or len(seqs.items) == 0:
        return np.zeros(len(seqs), dtype=np.int64)
    lengths = seqs.lengths
    out = np.zeros(len(seqs), dtype=np.int64)
    has = lengths > 0
    out[has] = np.minimum.reduceat(seqs.timestamps, seqs.offsets[:-1][has])
    return out


def last_times(seqs: Sequences) -> np.ndarray:
    """Latest timestamp of every row (length - 1 for rows without timestamps, -1 when empty)."""
    lengths = seqs.lengths
    if seqs.timestamps is None or len(seqs.items) == 0:
        return lengths.astype(np.int64) - 1
    out = np.full(len(seqs), -1, dtype=np.int64)
    has = lengths > 0
    out[has] = np.maximum.reduceat(seqs.timestamps, seqs.offsets[:-1][has])
    return out


def prefixed(prefix: str, tensors: dict[str, Any]) -> dict[str, Any]:
    """``tensors`` with every key written ``"<prefix>.<key>"`` (for ``state.pt``)."""
    return {f"{prefix}.{k}": v for k, v in tensors.items()}


def unprefixed(prefix: str, state: dict[str, Any]) -> dict[str, Any]:
    """The entries of ``state`` written by :func:`prefixed` with ``prefix``, under their own keys."""
    head = f"{prefix}."
    return {k[len(head) :]: v for k, v in state.items() if k.startswith(head)}


def module_state(prefix: str, module: torch.nn.Module) -> dict[str, Any]:
    """CPU copies of ``module``'s tensors, keys prefixed (see :func:`prefixed`)."""
    return prefixed(prefix, {k: v.detach().cpu().clone() for k, v in module.state_dict().items()})


class Synthesizer(ABC):
    """Base class: settings in the constructor, learned state in attributes ending in ``_``."""

    #: registry name, also the ``source`` tag of generated rows
    name: ClassVar[str] = "synthesizer"

    def __init__(
        self,
        *,
        epochs: int = 20,
        batch_size: int = 256,
        lr: float = 1e-3,
        seed: int = 0,
        device: str = "auto",
        threads: int | None = None,
        progress: bool | None = None,
        checkpoint: str | None = None,
    ) -> None:
        self.train_config = TrainConfig(
            epochs=epochs, batch_size=batch_size, lr=lr, patience=None, threads=threads, progress=progress,
            checkpoint=checkpoint,
        )  # fmt: skip
        self.seed = seed
        self.device = device
        self.item_space_: int | None = None
        self.n_users_: int | None = None
        self.loss_history_: list[dict[str, Any]] = []
        #: epoch whose weights were kept when training picked one (``holdout_users``), else None
        self.best_epoch_: int | None = None
        self.categories_: list[str] = []

    # -- settings ---------------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        """Constructor settings (JSON-ready); subclasses extend."""
        tc = self.train_config
        return {
            "epochs": tc.epochs,
            "batch_size": tc.batch_size,
            "lr": tc.lr,
            "seed": self.seed,
            "device": self.device,
            "threads": tc.threads,
            "progress": tc.progress,
        }

    @property
    def torch_device(self) -> torch.device:
        """Resolved device (``"auto"`` -> CUDA when available)."""
        return resolve_device(self.device)

    def __repr__(self) -> str:
        state = "fitted" if self.item_space_ is not None else "not fitted"
        return f"{type(self).__name__}({state}, {self.config()})"

    # -- fit --------------------------------------------------------------------------------
    def fit(
        self, train: Interactions, *, item_space: int | None = None, items: pl.DataFrame | None = None
    ) -> Synthesizer:
        """Learn from ``train`` (pass ``split.train`` only). Returns ``self``."""
        if not isinstance(train, Interactions):
            raise DataError(
                f"{self.name} synthesizer: train must be Interactions, got {type(train).__name__}"
            )
        if len(train) == 0:
            raise DataError(
                f"cannot fit the {self.name!r} synthesizer on empty interactions",
                expected="at least one training interaction",
            )
        started = time.perf_counter()
        top = int(train.items.max()) + 1
        if item_space is not None and int(item_space) < top:
            raise DataError(
                f"item_space={item_space} is smaller than the largest item code + 1 ({top})", column=C.ITEM
            )
        self.item_space_ = int(item_space) if item_space is not None else top
        self.n_users_ = int(train.users.max()) + 1
        items_arr = train.items.astype(np.int64)
        self.item_counts_ = np.bincount(items_arr, minlength=self.item_space_).astype(np.float64)
        lengths = train.frame.group_by(C.USER).len().get_column("len").to_numpy()
        self.length_counts_ = np.bincount(lengths).astype(np.float64)
        self._set_categories(items)
        self.loss_history_ = []
        self.best_epoch_ = None
        self._fit(train)
        log.info(
            "fit %s synthesizer on %d rows / %d users / %d items in %.1fs",
            self.name, len(train), len(lengths), int((self.item_counts_ > 0).sum()), time.perf_counter() - started,
        )  # fmt: skip
        return self

    def _set_categories(self, items: pl.DataFrame | None) -> None:
        n = self.item_space_ or 0
        self.item_category_ = np.full(n, -1, dtype=np.int64)
        self.categories_ = []
        if items is None:
            return
        if not isinstance(items, pl.DataFrame) or C.ITEM not in items.columns:
            raise DataError("items must be a Polars frame with an item_id column", column=C.ITEM)
        if C.CATEGORY not in items.columns:
            return
        table = items.select(pl.col(C.ITEM).cast(pl.Int64), pl.col(C.CATEGORY).cast(pl.Utf8)).drop_nulls()
        table = table.filter((pl.col(C.ITEM) >= 0) & (pl.col(C.ITEM) < n)).unique(C.ITEM, keep="first")
        self.categories_ = sorted(table.get_column(C.CATEGORY).unique().to_list())
        code = {c: i for i, c in enumerate(self.categories_)}
        cats = np.array([code[c] for c in table.get_column(C.CATEGORY).to_list()], dtype=np.int64)
        self.item_category_[table.get_column(C.ITEM).to_numpy()] = cats

    @abstractmethod
    def _fit(self, train: Interactions) -> None:
        """Model-specific training (common learned state is already set)."""

    def _check_fitted(self) -> None:
        if self.item_space_ is None:
            raise NotFittedError(f"the {self.name!r} synthesizer must be fitted before it can generate")

    # -- shared helpers ----------------------------------------------------------------------
    def allowed_items(self, condition: dict[str, Any] | None = None) -> np.ndarray:
        """Boolean mask over item codes that may be generated (items seen in train, ∩ condition)."""
        self._check_fitted()
        allowed = self.item_counts_ > 0
        allowed[: C.N_RESERVED] = False
        if not condition:
            return allowed
        if not isinstance(condition, dict):
            raise ConfigError(f"condition must be a dict like {{'category': ...}}, got {condition!r}")
        unknown = sorted(set(condition) - set(CONDITION_KEYS))
        if unknown:
            raise ConfigError(f"unknown condition key(s) {unknown}; accepted: {list(CONDITION_KEYS)}")
        if "category" in condition:
            if not self.categories_:
                raise ConfigError(
                    "condition on 'category' needs fit(..., items=<table with a category column>)"
                )
            wanted = condition["category"]
            wanted = [wanted] if isinstance(wanted, str) else list(wanted)
            missing = [c for c in wanted if c not in self.categories_]
            if missing:
                raise ConfigError(f"unknown categor(ies) {missing}; known: {self.categories_}")
            codes = [self.categories_.index(c) for c in wanted]
            allowed &= np.isin(self.item_category_, codes)
            if not allowed.any():
                raise ConfigError(f"no training item belongs to category {wanted}")
        return allowed

    def sample_lengths(self, users: np.ndarray, seed: int, cap: int) -> np.ndarray:
        """A length per new user from the training length distribution (at most ``cap``)."""
        u = row_uniform(seed, users, SALT_LENGTH)
        return np.minimum(inverse_cdf(self.length_counts_, u), cap).astype(np.int64)

    # -- the verbs --------------------------------------------------------------------------
    def sample(
        self,
        n_users: int | None = None,
        seed: int = 0,
        condition: dict[str, Any] | None = None,
        *,
        first_user: int | None = None,
    ) -> Interactions:
        """Rows of ``n_users`` new synthetic users with codes from ``first_user`` (default ``n_users_``)."""
        self._check_fitted()
        assert self.n_users_ is not None
        n = int(self.length_counts_[1:].sum()) if n_users is None else int(n_users)
        if n < 0:
            raise ConfigError(f"n_users must be >= 0, got {n_users}")
        allowed = self.allowed_items(condition)
        start = self.n_users_ if first_user is None else int(first_user)
        if n == 0:
            return empty_interactions(self.name)
        started = time.perf_counter()
        users = np.arange(start, start + n, dtype=np.int64)
        seqs = self._sample(users, self._stream_seed(seed), allowed)
        out = self._to_interactions(seqs)
        log.info("%s: sampled %d rows for %d new users in %.2fs", self.name, len(out), n,
                 time.perf_counter() - started)  # fmt: skip
        return out

    def complete(
        self,
        histories: Interactions | Sequences,
        k: int,
        seed: int = 0,
        *,
        condition: dict[str, Any] | None = None,
    ) -> Interactions:
        """``k`` new items per row of ``histories``, none already in the row; see the module docstring."""
        self._check_fitted()
        if int(k) < 0:
            raise ConfigError(f"k must be >= 0, got {k}")
        seqs = as_sequences(histories)
        allowed = self.allowed_items(condition)
        if int(k) == 0 or len(seqs) == 0:
            return empty_interactions(self.name)
        started = time.perf_counter()
        out = self._to_interactions(self._complete(seqs, int(k), self._stream_seed(seed), allowed))
        log.info("%s: completed %d users with %d rows in %.2fs", self.name, len(seqs), len(out),
                 time.perf_counter() - started)  # fmt: skip
        return out

    @abstractmethod
    def _sample(self, users: np.ndarray, seed: int, allowed: np.ndarray) -> Sequences:
        """One row per new user (``users`` codes), with timestamps."""

    @abstractmethod
    def _complete(self, seqs: Sequences, k: int, seed: int, allowed: np.ndarray) -> Sequences:
        """New items per row of ``seqs`` (rows keep ``seqs.users``), with timestamps."""

    def _stream_seed(self, seed: int) -> int:
        """The caller's seed mixed with the synthesizer name, so two synthesizers never share noise."""
        key = np.array([zlib.crc32(self.name.encode())], dtype=np.int64)
        return int(row_uniform(int(seed), key, 0)[0] * (1 << 53))

    def _to_interactions(self, seqs: Sequences) -> Interactions:
        lengths = seqs.lengths
        ts = seqs.timestamps
        if ts is None:
            ts = np.arange(len(seqs.items), dtype=np.int64) - np.repeat(seqs.offsets[:-1], lengths)
        return rows_to_interactions(np.repeat(seqs.users, lengths), seqs.items, ts, self.name)

    # -- persistence ------------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        """Model-specific tensors for ``state.pt``."""
        return {}

    def _load_state(self, state: dict[str, Any]) -> None:  # noqa: B027  (optional hook)
        """Inverse of :meth:`_state` (common learned state is already restored)."""

    def state_dict(self) -> dict[str, Any]:
        """Every learned tensor (CPU)."""
        self._check_fitted()
        return {
            "item_counts": torch.from_numpy(self.item_counts_),
            "length_counts": torch.from_numpy(self.length_counts_),
            "item_category": torch.from_numpy(self.item_category_),
            **self._state(),
        }

    def save(self, path: str | Path) -> Path:
        """Write ``config.json`` and ``state.pt`` into folder ``path``, each atomically."""
        self._check_fitted()
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        doc = {
            "synthesizer": self.name,
            "config": self.config(),
            "fitted": {
                "item_space": self.item_space_,
                "n_users": self.n_users_,
                "categories": self.categories_,
                "loss_history": self.loss_history_,
                "best_epoch": self.best_epoch_,
            },
        }
        atomic.write_text(path / "config.json", json.dumps(doc, indent=2, default=float))
        with atomic.atomic_file(path / "state.pt") as tmp:
            torch.save(self.state_dict(), tmp)
        return path

    @classmethod
    def load(cls, path: str | Path) -> Synthesizer:
        """Rebuild a synthesizer saved with :meth:`save` (``weights_only=True``)."""
        from recaug.generate.registry import get_synthesizer

        path = Path(path)
        try:
            doc = json.loads((path / "config.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DataError("no saved synthesizer here", file=path / "config.json") from None
        klass = cls if cls.name == doc["synthesizer"] else get_synthesizer(doc["synthesizer"])
        synth = klass(**doc["config"])
        fitted = doc["fitted"]
        synth.item_space_ = int(fitted["item_space"])
        synth.n_users_ = int(fitted["n_users"])
        synth.categories_ = list(fitted["categories"])
        synth.loss_history_ = list(fitted["loss_history"])
        synth.best_epoch_ = fitted.get("best_epoch")  # absent in files saved before it was kept
        state = torch.load(path / "state.pt", map_location="cpu", weights_only=True)
        synth.item_counts_ = state["item_counts"].numpy().astype(np.float64)
        synth.length_counts_ = state["length_counts"].numpy().astype(np.float64)
        synth.item_category_ = state["item_category"].numpy().astype(np.int64)
        synth._load_state(state)
        return synth
