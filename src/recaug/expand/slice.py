"""Slice: explicit prefix / sliding-window / suffix expansion ("sequence splitting")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from recaug.data import csr
from recaug.data.sequences import Sequences
from recaug.errors import ConfigError
from recaug.expand.base import Operation
from recaug.expand.registry import register

KINDS = ("prefix", "window", "suffix")


@register
@dataclass(eq=False, repr=False)
class Slice(Operation):
    """Turn each row into several rows (deterministic, so all views are equal).

    * ``"prefix"``: prefixes ending at ``len, len - stride, ...`` down to ``min_len`` items, each
      cut to its last ``max_len`` items when ``max_len`` is set: the "prefix expansion"
      (RecBole, GRU4Rec-style training instances) made visible and configurable;
    * ``"window"``: windows of exactly ``max_len`` items ending at ``len, len - stride, ...``
      (a row shorter than ``max_len`` gives itself once, if at least ``min_len`` long);
    * ``"suffix"``: suffixes starting at ``0, stride, ...`` with at least ``min_len`` items,
      each cut to its first ``max_len`` items when ``max_len`` is set.

    Output rows of one input row are ordered longest-context first (the full row first);
    rows shorter than ``min_len`` give no output.
    """

    kind: str = "prefix"
    min_len: int = 2
    max_len: int | None = None
    stride: int = 1
    name: ClassVar[str] = "slice"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if int(self.min_len) < 1 or int(self.stride) < 1:
            raise ConfigError("min_len and stride must be >= 1")
        if self.max_len is not None and int(self.max_len) < int(self.min_len):
            raise ConfigError(f"max_len={self.max_len} is below min_len={self.min_len}")
        if self.kind == "window" and self.max_len is None:
            raise ConfigError("kind='window' needs max_len (the window size)")

    def describe(self) -> str:
        cap = f", at most {self.max_len} items" if self.max_len else ""
        return f"Slice: every {self.kind} of each sequence (stride {self.stride}, at least {self.min_len} items{cap})"

    def transform(self, seqs: Sequences, state: np.ndarray) -> tuple[Sequences, np.ndarray]:
        lengths = seqs.lengths
        s, m = int(self.stride), int(self.min_len)
        if self.kind == "window":
            w = int(self.max_len)  # type: ignore[arg-type]
            span = np.maximum(lengths - w, 0)
            count = np.where(lengths >= m, span // s + 1, 0)
        else:
            count = np.where(lengths >= m, (lengths - m) // s + 1, 0)
        parent = np.repeat(np.arange(len(seqs)), count)
        j = np.arange(len(parent)) - np.repeat(np.cumsum(count) - count, count)
        n = lengths[parent]
        if self.kind == "suffix":
            start = j * s
            stop = n if self.max_len is None else np.minimum(n, start + int(self.max_len))
        else:
            stop = n - j * s
            start = np.zeros_like(stop) if self.max_len is None else np.maximum(stop - int(self.max_len), 0)
        idx, offsets = csr.slice_index(seqs.offsets[:-1][parent] + start, stop - start)
        return csr.gather(seqs, idx, offsets, parent), parent
