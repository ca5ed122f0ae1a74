"""Mask: replace a random fraction of the items with the MASK id."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from recaug import columns as C
from recaug.data import csr
from recaug.data.sequences import Sequences
from recaug.errors import ConfigError
from recaug.expand import _csr
from recaug.expand._streams import PURPOSE_POS
from recaug.expand.base import Operation, check_fraction
from recaug.expand.registry import register


@register
@dataclass(eq=False, repr=False)
class Mask(Operation):
    """Replace ``floor(gamma * len)`` distinct random items of each row with ``MASK_ID`` (CoSeRec's mask).

    ``rounding="ceil"`` masks ``ceil(gamma * len)`` instead. PAD entries (e.g. RepeatPad gaps)
    are never masked, so the output never gains a PAD and never has more than
    ``ceil(gamma * len)`` changed positions.
    """

    gamma: float = 0.3
    rounding: str = "floor"
    name: ClassVar[str] = "mask"

    def __post_init__(self) -> None:
        check_fraction("gamma", self.gamma)
        if self.rounding not in ("floor", "ceil"):
            raise ConfigError(f"rounding must be 'floor' or 'ceil', got {self.rounding!r}")

    def describe(self) -> str:
        return f"Mask: replace {self.gamma:.0%} of each sequence's items (rounded {self.rounding}) with MASK"

    def n_masked(self, lengths: np.ndarray) -> np.ndarray:
        """How many positions a row of each length gets masked."""
        exact = self.gamma * np.asarray(lengths, dtype=np.float64)
        # guard against 0.3 * 10 = 3.0000000000000004 style float noise
        k = np.ceil(exact - 1e-9) if self.rounding == "ceil" else np.floor(exact + 1e-9)
        return k.astype(np.int64)

    def transform(self, seqs: Sequences, state: np.ndarray) -> tuple[Sequences, None]:
        eligible = seqs.items != C.PAD_ID
        chosen = _csr.choose_k(seqs.offsets, self.n_masked(seqs.lengths), state, PURPOSE_POS, eligible)
        items = _csr.blend(seqs.items, chosen, C.MASK_ID)
        return csr.with_items(seqs, items), None
