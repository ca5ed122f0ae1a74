"""Online augmentation helpers: fresh views for every training batch.

A training loop holds left-padded ``(batch, max_len)`` item matrices (SASRec convention).
``augment_padded`` turns one into ``Sequences``, augments it with a per-epoch seed and pads it
back, all vectorised (tens of microseconds for a typical batch). NumPy only: pass
``tensor.cpu()`` (anything ``np.asarray`` accepts) and wrap the result with
``torch.from_numpy``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from recaug import columns as C
from recaug.data import csr
from recaug.data.sequences import Sequences
from recaug.errors import ConfigError
from recaug.expand._streams import sub_seed
from recaug.expand.base import Augmenter


def _as_numpy(batch: Any) -> np.ndarray:
    if hasattr(batch, "detach"):  # a torch tensor, without importing torch here
        batch = batch.detach().cpu().numpy()
    return np.asarray(batch)


def from_padded(
    batch: Any, users: Any | None = None, *, pad: int = C.PAD_ID, side: str = "left"
) -> Sequences:
    """Rows of a padded item matrix as ``Sequences`` (only the padding run on ``side`` is removed).

    ``users`` defaults to the row index.
    """
    x = _as_numpy(batch)
    if x.ndim != 2:
        raise ConfigError(f"expected a 2-d (batch, max_len) matrix, got shape {x.shape}")
    n, width = x.shape
    real = x != pad
    any_real = real.any(axis=1)
    if side == "left":
        first = np.where(any_real, real.argmax(axis=1), width)
        lengths = width - first
        starts = first
    elif side == "right":
        last = np.where(any_real, width - real[:, ::-1].argmax(axis=1), 0)
        lengths = last
        starts = np.zeros(n, dtype=np.int64)
    else:
        raise ConfigError(f"side must be 'left' or 'right', got {side!r}")
    idx, offsets = csr.slice_index(np.arange(n, dtype=np.int64) * width + starts, lengths.astype(np.int64))
    user_codes = np.arange(n) if users is None else _as_numpy(users)
    return Sequences(offsets=offsets, items=x.reshape(-1)[idx], users=user_codes)


def to_padded(sequences: Sequences, max_len: int, *, pad: int = C.PAD_ID, side: str = "left") -> np.ndarray:
    """``(rows, max_len)`` int64 matrix of the last ``max_len`` items of every row."""
    return sequences.to_padded(max_len, pad=pad, side=side)


def epoch_seed(seed: int, epoch: int) -> int:
    """A fresh, reproducible seed for one epoch (and another for each batch via ``epoch_seed(s, b)``)."""
    return sub_seed(int(seed), int(epoch))


def augment_padded(
    augmenter: Augmenter,
    batch: Any,
    seed: int,
    *,
    users: Any | None = None,
    keys: Any | None = None,
    n_views: int = 1,
    max_len: int | None = None,
    pad: int = C.PAD_ID,
) -> np.ndarray:
    """Augment a left-padded batch and return it left-padded again (``n_views`` rows per row).

    Stream keys are ``keys`` (e.g. training-example ids) or ``users``, so a row's view depends
    only on (seed, key, view), never on the rest of the batch.
    """
    x = _as_numpy(batch)
    seqs = from_padded(x, users, pad=pad)
    out = augmenter.augment(seqs, n_views, seed, keys=None if keys is None else _as_numpy(keys))
    return out.to_padded(x.shape[1] if max_len is None else max_len, pad=pad)
