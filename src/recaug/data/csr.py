"""CSR helpers shared by every stage: ``Sequences`` (offsets + items arrays) and sparse matrices.

Everything works on whole ``offsets`` / ``items`` arrays; no Python loop over rows, no randomness.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recaug.data.sequences import Sequences


def row_of(offsets: np.ndarray) -> np.ndarray:
    """Row index of every element."""
    return np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))


def pos_in_row(offsets: np.ndarray, row: np.ndarray | None = None) -> np.ndarray:
    """Position of every element inside its row."""
    return np.arange(offsets[-1], dtype=np.int64) - np.repeat(offsets[:-1], np.diff(offsets))


def offsets_from_lengths(lengths: np.ndarray) -> np.ndarray:
    """CSR offsets for the given row lengths."""
    out = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=out[1:])
    return out


def slice_index(starts: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flat gather index for rows ``[starts[r], starts[r] + lengths[r])`` and the new offsets."""
    offsets = offsets_from_lengths(lengths)
    idx = np.arange(offsets[-1], dtype=np.int64) + np.repeat(starts - offsets[:-1], lengths)
    return idx, offsets


def gather(
    seqs: Sequences, idx: np.ndarray, offsets: np.ndarray, parent: np.ndarray | None = None
) -> Sequences:
    """A new ``Sequences`` whose elements are ``seqs.items[idx]`` (timestamps follow)."""
    users = seqs.users if parent is None else seqs.users[parent]
    return Sequences(
        offsets=offsets,
        items=seqs.items[idx],
        users=users,
        timestamps=None if seqs.timestamps is None else seqs.timestamps[idx],
        source=np.empty(len(users), dtype=object),
    )


def with_items(seqs: Sequences, items: np.ndarray, timestamps: np.ndarray | None = None) -> Sequences:
    """Same rows and users, new item values (and optionally new timestamps)."""
    return Sequences(
        offsets=seqs.offsets,
        items=items,
        users=seqs.users,
        timestamps=seqs.timestamps if timestamps is None else timestamps,
        source=np.empty(len(seqs), dtype=object),
    )


def insert_before(seqs: Sequences, chosen: np.ndarray, new_items: np.ndarray) -> Sequences:
    """Insert ``new_items`` (one per chosen position, in order) right before each chosen element.

    An inserted element takes the timestamp of the element it precedes, so time order holds.
    """
    c = np.cumsum(chosen, dtype=np.int64)
    n_new = int(c[-1]) if len(c) else 0
    dest = np.arange(len(seqs.items), dtype=np.int64) + c
    ins = dest[chosen] - 1
    items = np.empty(len(seqs.items) + n_new, dtype=np.int32)
    items[dest] = seqs.items
    items[ins] = new_items
    ts = None
    if seqs.timestamps is not None:
        ts = np.empty(len(items), dtype=np.int64)
        ts[dest] = seqs.timestamps
        ts[ins] = seqs.timestamps[chosen]
    before = np.zeros(len(seqs.items) + 1, dtype=np.int64)
    before[1:] = c
    offsets = seqs.offsets + before[seqs.offsets]
    return Sequences(
        offsets=offsets,
        items=items,
        users=seqs.users,
        timestamps=ts,
        source=np.empty(len(seqs), dtype=object),
    )


def concat(parts: list[Sequences]) -> Sequences:
    """Rows of all parts, in order (timestamps kept only when every part has them)."""
    if len(parts) == 1:
        return parts[0]
    lengths = np.concatenate([p.lengths for p in parts])
    has_ts = all(p.timestamps is not None for p in parts)
    return Sequences(
        offsets=offsets_from_lengths(lengths),
        items=np.concatenate([p.items for p in parts]),
        users=np.concatenate([p.users for p in parts]),
        timestamps=np.concatenate([p.timestamps for p in parts]) if has_ts else None,  # type: ignore[misc]
        source=np.concatenate([p.source for p in parts]),
    )


def pair_matrix(
    rows: np.ndarray,
    cols: np.ndarray,
    shape: tuple[int, int],
    *,
    binary: bool = True,
    dtype: type | np.dtype = np.float32,
) -> sp.csr_matrix:
    """Sparse ``shape`` matrix of the ``(rows[i], cols[i])`` pairs (user-item, history-item ...).

    An entry counts its pair's occurrences; ``binary``: 1 for every distinct pair. Canonical CSR
    (sorted indices, no duplicates).
    """
    mat = sp.csr_matrix((np.ones(len(rows), dtype=dtype), (rows, cols)), shape=shape)
    mat.sum_duplicates()
    if binary:
        mat.data[:] = 1
    return mat
