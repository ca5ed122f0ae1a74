"""The ``Augmenter`` contract and the machinery shared by every operation.

* ``fit(train) -> self``: only operations that learn from data (item correlations, the item
  code space) need it; the rest return ``self`` at once.
* ``augment(sequences, n_views=1, seed=0) -> Sequences``: ``n_views`` augmented rows per input
  row, row-major (all views of input row 0, then of row 1, ...). Every output row keeps its
  source user in ``users`` and names the operation(s) that made it in ``source`` (``"crop"``,
  ``"crop+mask"``; ``"identity"`` when a ``Sometimes``/``OneOf`` branch left it unchanged).
* Randomness: row ``r``, view ``v`` draws from a stream keyed by ``(seed, users[r], v)``
  (or ``(seed, keys[r], v)`` when ``keys`` are given), so ``augment(a + b)`` equals
  ``augment(a) + augment(b)`` row for row, whatever the batch size, order or engine.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import numpy as np

from recaug.data import csr
from recaug.data.interactions import Interactions
from recaug.data.sequences import Sequences
from recaug.errors import ConfigError, NotFittedError
from recaug.expand._streams import row_state, stream_keys, sub_key

log = logging.getLogger("recaug.expand")

IDENTITY = "identity"


def object_array(n: int, value: str) -> np.ndarray:
    """An object array of ``n`` copies of ``value`` (10x faster than ``np.full`` for objects)."""
    out = np.empty(n, dtype=object)
    out[:] = value
    return out


@dataclass
class Batch:
    """Rows moving through an augmentation pipeline (internal to ``expand``).

    ``keys`` are the per-row stream keys, ``parent`` the row of the batch ``augment`` started
    from that each row descends from. The operation path of row ``r`` (``"crop+mask"``) is
    ``names[path[r]]``, with ``path=None`` meaning code 0 for every row: paths are extended
    by renaming the few distinct ``names``, never by touching per-row strings.
    """

    seqs: Sequences
    keys: np.ndarray
    parent: np.ndarray
    path: np.ndarray | None = None
    names: tuple[str, ...] = ("",)

    def __len__(self) -> int:
        return len(self.seqs)

    def codes(self) -> np.ndarray:
        """Path code per row (materialised)."""
        return np.zeros(len(self), dtype=np.int32) if self.path is None else self.path

    def select(self, rows: np.ndarray) -> Batch:
        """The given rows, in the given order."""
        path = None if self.path is None else self.path[rows]
        return Batch(self.seqs.take(rows), self.keys[rows], self.parent[rows], path, self.names)

    def extended(self, name: str) -> tuple[str, ...]:
        """``names`` with ``name`` appended to every path."""
        return tuple(name if n == "" else f"{n}+{name}" for n in self.names)

    def sources(self) -> np.ndarray:
        """The per-row path strings, ``"identity"`` for untouched rows."""
        names = np.array([n or IDENTITY for n in self.names] + [""], dtype=object)[:-1]
        if self.path is None:
            return object_array(len(self), names[0])
        return names[self.path]

    @staticmethod
    def concat(parts: list[Batch]) -> Batch:
        """Rows of all parts, in order."""
        if len(parts) == 1:
            return parts[0]
        names: dict[str, int] = {}
        for p in parts:
            for n in p.names:
                names.setdefault(n, len(names))
        codes = [np.array([names[n] for n in p.names], dtype=np.int32)[p.codes()] for p in parts]
        return Batch(
            csr.concat([p.seqs for p in parts]),
            np.concatenate([p.keys for p in parts]),
            np.concatenate([p.parent for p in parts]),
            np.concatenate(codes),
            tuple(names),
        )


def _training_sequences(train: Interactions | Sequences) -> Sequences:
    return train if isinstance(train, Sequences) else Sequences.from_interactions(train)


class Augmenter(ABC):
    """Base class of every augmentation operation and combinator."""

    #: registry / config name, also the ``source`` tag of rows this operation makes
    name: ClassVar[str] = "augmenter"

    # -- the contract ---------------------------------------------------------------------
    def fit(self, train: Interactions | Sequences) -> Augmenter:
        """Learn what the operation needs from training data only; returns ``self``."""
        return self

    @property
    def is_fitted(self) -> bool:
        """Whether :meth:`augment` can run (always true for operations that need no fit)."""
        return True

    def augment(
        self,
        sequences: Sequences,
        n_views: int = 1,
        seed: int = 0,
        *,
        keys: np.ndarray | None = None,
    ) -> Sequences:
        """``n_views`` augmented rows per input row (row-major), tagged with user and operation.

        ``keys`` (optional, one integer per row) replaces ``users`` as the stream key, e.g.
        training-example ids when a batch holds several rows of one user. Output arrays may
        share memory with the input where an operation left them unchanged: treat both as
        read-only.
        """
        return self.augment_with_provenance(sequences, n_views, seed, keys=keys)[0]

    def augment_with_provenance(
        self,
        sequences: Sequences,
        n_views: int = 1,
        seed: int = 0,
        *,
        keys: np.ndarray | None = None,
    ) -> tuple[Sequences, np.ndarray, np.ndarray]:
        """Like :meth:`augment`, plus the input row (int64) and view (0-based) of every output row.

        Operations such as ``Slice`` emit several rows (or none) per input row, so these arrays
        are the only reliable way back to the input.
        """
        if int(n_views) < 1:
            raise ConfigError(f"n_views must be >= 1, got {n_views}")
        self._check_fitted()
        n = len(sequences)
        base = sequences.users if keys is None else np.asarray(keys)
        if len(base) != n:
            raise ConfigError(f"keys has {len(base)} entries for {n} rows")
        if n_views == 1:
            seqs, rows, views = sequences, np.arange(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
        else:
            rows = np.repeat(np.arange(n, dtype=np.int64), n_views)
            views = np.tile(np.arange(n_views, dtype=np.int64), n)
            seqs = sequences.take(rows)
        batch = Batch(seqs, stream_keys(base[rows], views), np.arange(len(rows), dtype=np.int64))
        out = self._run(batch, seed)
        res = out.seqs
        result = Sequences(res.offsets, res.items, res.users, res.timestamps, out.sources())
        return result, rows[out.parent], views[out.parent]

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(f"{type(self).__name__} must be fitted on training data before augment()")

    @abstractmethod
    def _run(self, batch: Batch, seed: int) -> Batch:
        """Transform a batch (used by ``augment`` and by combinators)."""

    # -- description ----------------------------------------------------------------------
    @abstractmethod
    def describe(self) -> str:
        """One readable line saying what the operation does with its settings."""

    def config(self) -> dict[str, Any]:
        """``{"op": name, **settings}``; :func:`recaug.expand.from_config` reads it back."""
        out: dict[str, Any] = {"op": self.name}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            out[f.name] = _config_value(value)
        return out

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.config().items() if k != "op")
        return f"{type(self).__name__}({params})"


def _config_value(value: Any) -> Any:
    if isinstance(value, Augmenter):
        return value.config()
    if hasattr(value, "config") and callable(value.config):
        return value.config()
    if isinstance(value, list | tuple):
        return [_config_value(v) for v in value]
    return value


class Operation(Augmenter):
    """A primitive operation: a vectorised kernel over a whole CSR batch.

    Subclasses implement :meth:`transform`, which gets the rows, the per-row stream states
    and returns the new rows plus, for operations that emit several rows per input row, the
    input row of each output row (``None`` when rows map one to one).
    """

    @abstractmethod
    def transform(self, seqs: Sequences, state: np.ndarray) -> tuple[Sequences, np.ndarray | None]:
        """The kernel: ``state`` holds one uint64 stream state per row (see ``_streams``)."""

    def _run(self, batch: Batch, seed: int) -> Batch:
        self._check_fitted()
        state = row_state(seed, batch.keys)
        seqs, parent = self.transform(batch.seqs, state)
        if parent is None:
            keys, parents, path = batch.keys, batch.parent, batch.path
        else:
            first = np.r_[True, parent[1:] != parent[:-1]] if len(parent) else np.zeros(0, bool)
            group_start = np.maximum.accumulate(np.where(first, np.arange(len(parent)), 0))
            index = np.arange(len(parent)) - group_start
            keys = sub_key(batch.keys[parent], index)
            parents = batch.parent[parent]
            path = None if batch.path is None else batch.path[parent]
        return Batch(seqs, keys, parents, path, batch.extended(self.name))


def check_fraction(name: str, value: float, *, low: float = 0.0, high: float = 1.0) -> None:
    """Raise ``ConfigError`` unless ``low <= value <= high``."""
    if not (low <= float(value) <= high):
        raise ConfigError(f"{name} must be in [{low}, {high}], got {value}")


def check_item_space(item_space: int | None) -> None:
    """Raise ``ConfigError`` for an item space without room for at least one real item."""
    if item_space is not None and int(item_space) <= 2:
        raise ConfigError(f"item_space must be > 2 (codes 0 and 1 are reserved), got {item_space}")


def training_item_space(train: Interactions | Sequences) -> int:
    """``max item code + 1`` of the training data (at least 3)."""
    seqs = _training_sequences(train)
    return max(int(seqs.items.max()) + 1 if len(seqs.items) else 3, 3)


__all__ = ["Augmenter", "Batch", "Operation", "IDENTITY", "check_fraction", "training_item_space"]
