"""Combinators: augmenters made of augmenters (Compose, OneOf, Sometimes, LengthAwarePolicy)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from recaug.data.interactions import Interactions
from recaug.data.sequences import Sequences
from recaug.errors import ConfigError
from recaug.expand._streams import row_state, row_uniform, sub_seed
from recaug.expand.base import Augmenter, Batch, check_fraction
from recaug.expand.registry import register

_CHOICE_SALT = 1_000_003  # seed salt of routing draws, distinct from child stage salts


def _as_list(ops: Augmenter | list[Augmenter] | tuple[Augmenter, ...]) -> list[Augmenter]:
    out = [ops] if isinstance(ops, Augmenter) else list(ops)
    for op in out:
        if not isinstance(op, Augmenter):
            raise ConfigError(f"expected an Augmenter, got {op!r} (use from_config for dicts)")
    return out


class _Parent(Augmenter):
    """Shared behaviour of combinators: fit and fitted-state delegate to the children."""

    def children(self) -> list[Augmenter]:
        """The augmenters this one is made of."""
        raise NotImplementedError

    def fit(self, train: Interactions | Sequences) -> Augmenter:
        """Fit every child on ``train``; returns ``self``."""
        seqs = train if isinstance(train, Sequences) else Sequences.from_interactions(train)
        for child in self.children():
            child.fit(seqs)
        return self

    @property
    def is_fitted(self) -> bool:
        return all(c.is_fitted for c in self.children())


def route(batch: Batch, seed: int, choice: np.ndarray, ops: list[Augmenter]) -> Batch:
    """Run ``ops[choice[r]]`` on row ``r`` (``-1``: leave unchanged), keeping the row order."""
    origin = batch.parent
    local = Batch(batch.seqs, batch.keys, np.arange(len(batch), dtype=np.int64), batch.path, batch.names)
    parts = []
    for j in range(-1, len(ops)):
        rows = np.flatnonzero(choice == j)
        if len(rows) == 0:
            continue
        sub = local if len(rows) == len(batch) else local.select(rows)
        parts.append(sub if j < 0 else ops[j]._run(sub, sub_seed(seed, j)))
    if not parts:
        return batch
    merged = Batch.concat(parts)
    if len(parts) > 1:  # back to input row order; rows made from one input row keep their order
        order = np.argsort(merged.parent, kind="stable")
        merged = merged.select(order)
    merged.parent = origin[merged.parent]
    return merged


@register
@dataclass(eq=False, repr=False)
class Compose(_Parent):
    """Apply ``ops`` one after another; rows are tagged ``"op1+op2+..."``."""

    ops: list[Augmenter] = field(default_factory=list)
    name: ClassVar[str] = "compose"
    nested: ClassVar[dict[str, str]] = {"ops": "augmenters"}

    def __post_init__(self) -> None:
        self.ops = _as_list(self.ops)

    def children(self) -> list[Augmenter]:
        return self.ops

    def describe(self) -> str:
        return (
            "Compose: " + " then ".join(op.describe() for op in self.ops) if self.ops else "Compose: nothing"
        )

    def _run(self, batch: Batch, seed: int) -> Batch:
        for i, op in enumerate(self.ops):
            batch = op._run(batch, sub_seed(seed, i))
        return batch


@register
@dataclass(eq=False, repr=False)
class OneOf(_Parent):
    """Apply one of ``ops`` per row, chosen with probability proportional to ``weights``."""

    ops: list[Augmenter] = field(default_factory=list)
    weights: list[float] | None = None
    name: ClassVar[str] = "one_of"
    nested: ClassVar[dict[str, str]] = {"ops": "augmenters"}

    def __post_init__(self) -> None:
        self.ops = _as_list(self.ops)
        if not self.ops:
            raise ConfigError("one_of needs at least one op")
        if self.weights is not None:
            w = np.asarray(self.weights, dtype=np.float64)
            if len(w) != len(self.ops) or (w < 0).any() or w.sum() <= 0:
                raise ConfigError(f"weights must be {len(self.ops)} non-negative numbers with a positive sum")
            self.weights = [float(x) for x in w]

    def children(self) -> list[Augmenter]:
        return self.ops

    def describe(self) -> str:
        w = self.weights or [1.0] * len(self.ops)
        total = sum(w)
        return "OneOf: " + "; or ".join(
            f"{x / total:.0%} {op.describe()}" for x, op in zip(w, self.ops, strict=True)
        )

    def choose(self, batch: Batch, seed: int) -> np.ndarray:
        """Index of the op each row gets."""
        w = np.asarray(self.weights or [1.0] * len(self.ops), dtype=np.float64)
        cum = np.cumsum(w) / w.sum()
        u = row_uniform(row_state(sub_seed(seed, _CHOICE_SALT), batch.keys))
        return np.minimum(np.searchsorted(cum, u, side="right"), len(self.ops) - 1)

    def _run(self, batch: Batch, seed: int) -> Batch:
        return route(batch, seed, self.choose(batch, seed), self.ops)


@register
@dataclass(eq=False, repr=False)
class Sometimes(_Parent):
    """Apply ``augmenter`` to a row with probability ``p``; other rows pass unchanged."""

    augmenter: Augmenter | None = None
    p: float = 0.5
    name: ClassVar[str] = "sometimes"
    nested: ClassVar[dict[str, str]] = {"augmenter": "augmenter"}

    def __post_init__(self) -> None:
        if not isinstance(self.augmenter, Augmenter):
            raise ConfigError(f"sometimes needs an augmenter, got {self.augmenter!r}")
        check_fraction("p", self.p)

    def children(self) -> list[Augmenter]:
        return [self.augmenter]  # type: ignore[list-item]

    def describe(self) -> str:
        return f"Sometimes ({self.p:.0%} of rows): {self.augmenter.describe()}"  # type: ignore[union-attr]

    def _run(self, batch: Batch, seed: int) -> Batch:
        u = row_uniform(row_state(sub_seed(seed, _CHOICE_SALT), batch.keys))
        choice = np.where(u < self.p, 0, -1)
        return route(batch, seed, choice, self.children())


@register
@dataclass(eq=False, repr=False)
class LengthAwarePolicy(_Parent):
    """Rows with at most ``threshold`` items get ``short``, longer rows get ``long`` (CoSeRec/ICLRec).

    A list of ops means "one of them, uniformly", as in CoSeRec's random augmentation type.
    """

    short: Augmenter | list[Augmenter] | None = None
    long: Augmenter | list[Augmenter] | None = None
    threshold: int = 4
    name: ClassVar[str] = "length_aware"
    nested: ClassVar[dict[str, str]] = {"short": "augmenters", "long": "augmenters"}

    def __post_init__(self) -> None:
        if self.short is None or self.long is None:
            raise ConfigError("length_aware needs both 'short' and 'long' ops")
        self.short = _collapse(self.short)
        self.long = _collapse(self.long)
        if int(self.threshold) < 0:
            raise ConfigError(f"threshold must be >= 0, got {self.threshold}")

    def children(self) -> list[Augmenter]:
        return [self.short, self.long]  # type: ignore[list-item]

    def describe(self) -> str:
        return (
            f"LengthAwarePolicy: sequences of <= {self.threshold} items: {self.short.describe()}; "  # type: ignore[union-attr]
            f"longer: {self.long.describe()}"  # type: ignore[union-attr]
        )

    def _run(self, batch: Batch, seed: int) -> Batch:
        choice = (batch.seqs.lengths > int(self.threshold)).astype(np.int64)
        return route(batch, seed, choice, self.children())


def _collapse(ops: Augmenter | list[Augmenter]) -> Augmenter:
    items = _as_list(ops)
    return items[0] if len(items) == 1 else OneOf(items)
