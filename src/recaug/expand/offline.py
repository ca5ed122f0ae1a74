"""Offline augmentation: materialise augmented training sequences once, with provenance.

``expand_training(split.train, augmenter, n_views=2, seed=0)`` returns an
:class:`ExpandedSequences`: every row is its own training sequence (``sequence_id``), tagged
with its source user (``sequences.users``), what made it (``sequences.source``: ``"real"`` for
the originals, the op path such as ``"crop"`` or ``"crop+mask"`` otherwise), the training row
it came from (``origin``) and the view (``0`` = original, ``1..n_views``).

How it fuses with the originals: a sequence model trains on every row as an independent
sequence (``expanded.sequences.to_padded(max_len)``); originals are already included when
``keep_original=True``, so do not add ``split.train`` again. For long-form tools,
``to_interactions()`` gives one row per item with ``session_id = sequence_id``: rebuild
sequences by grouping on ``session_id`` in row order (never re-sort by (user, time) alone, which
would interleave a user's augmented rows). ``expanded.augmented()`` /
``expanded.originals()`` separate the two, and ``source`` always allows removing synthetic rows.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from recaug import columns as C
from recaug.data import csr
from recaug.data.interactions import Interactions
from recaug.data.sequences import Sequences
from recaug.expand.base import Augmenter
from recaug.expand.similarity import training_fingerprint

log = logging.getLogger("recaug.expand.offline")


@dataclass(eq=False)
class ExpandedSequences:
    """Training sequences plus augmented rows, one training sequence per row, with provenance."""

    sequences: Sequences
    origin: np.ndarray
    view: np.ndarray
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.origin = np.asarray(self.origin, dtype=np.int64)
        self.view = np.asarray(self.view, dtype=np.int32)

    def __len__(self) -> int:
        return len(self.sequences)

    def __repr__(self) -> str:
        n_aug = int((self.view > 0).sum())
        return f"ExpandedSequences(rows={len(self)}, original={len(self) - n_aug}, augmented={n_aug})"

    @property
    def sequence_id(self) -> np.ndarray:
        """A unique id per row (its position), the key sequence models group by."""
        return np.arange(len(self), dtype=np.int64)

    def select(self, mask: np.ndarray) -> ExpandedSequences:
        """Rows where ``mask`` is true (provenance arrays follow)."""
        rows = np.flatnonzero(mask)
        return ExpandedSequences(
            self.sequences.take(rows), self.origin[rows], self.view[rows], self.provenance
        )

    def originals(self) -> ExpandedSequences:
        """Only the unaugmented training rows."""
        return self.select(self.view == 0)

    def augmented(self) -> ExpandedSequences:
        """Only the augmented rows."""
        return self.select(self.view > 0)

    def to_interactions(self) -> Interactions:
        """Long form with ``session_id = sequence_id`` (rows in sequence order, not re-sorted).

        MASK / PAD entries (from Mask, RepeatPad) are not interactions and are left out, so
        this form is for provenance, leakage checks and row-level fusion; sequence models use
        :attr:`sequences`. Without timestamps, ``timestamp`` is the position in the row.
        """
        seqs = self.sequences
        lengths = seqs.lengths
        if seqs.timestamps is not None:
            ts = seqs.timestamps
        else:
            ts = np.arange(len(seqs.items), dtype=np.int64) - np.repeat(seqs.offsets[:-1], lengths)
        real = seqs.items >= C.N_RESERVED
        frame = pl.DataFrame(
            {
                C.USER: np.repeat(seqs.users, lengths)[real],
                C.ITEM: seqs.items[real],
                C.TIME: ts[real],
                C.SOURCE: pl.Series(np.repeat(seqs.source.astype(str), lengths)[real], dtype=pl.Utf8),
                C.SESSION: np.repeat(self.sequence_id, lengths)[real],
            }
        )
        return Interactions(frame, sort=False)


def expand_training(
    train: Interactions | Sequences,
    augmenter: Augmenter,
    n_views: int = 1,
    seed: int = 0,
    keep_original: bool = True,
    *,
    fit: bool = True,
) -> ExpandedSequences:
    """Fit ``augmenter`` on ``train`` (only), augment every training sequence ``n_views`` times.

    Rows are grouped by training row: its original (when ``keep_original``), then its views.
    The result is a pure function of (train, augmenter config, n_views, seed).
    """
    t0 = time.perf_counter()
    base = train if isinstance(train, Sequences) else Sequences.from_interactions(train)
    base = Sequences(
        base.offsets, base.items, base.users, base.timestamps, np.full(len(base), C.REAL, object)
    )
    if fit:
        augmenter.fit(base)
    aug, origin, view = augmenter.augment_with_provenance(base, n_views, seed)
    view = view + 1
    if keep_original:
        seqs = csr.concat([base, aug])
        origin = np.concatenate([np.arange(len(base), dtype=np.int64), origin])
        view = np.concatenate([np.zeros(len(base), dtype=np.int64), view])
        order = np.lexsort((view, origin))
        seqs, origin, view = seqs.take(order), origin[order], view[order]
    else:
        seqs = aug
    provenance = {
        "augmenter": augmenter.config(),
        "n_views": int(n_views),
        "seed": int(seed),
        "keep_original": bool(keep_original),
        "train_fingerprint": training_fingerprint(base),
    }
    log.info(
        "expand: %d training sequences in, %d rows out (%d augmented) in %.2fs",
        len(base),
        len(seqs),
        int((view > 0).sum()),
        time.perf_counter() - t0,
    )
    return ExpandedSequences(seqs, origin, view, provenance)
