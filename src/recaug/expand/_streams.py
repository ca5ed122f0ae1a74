"""Counter-based random streams for augmenters (internal).

Every draw is a pure function of ``(seed, key, counter)``: the same scheme as
:func:`recaug.random.hash_uniform`, bit for bit and built from its parts, but with the per-row
part hashed once per row and the counter part looked up from a small table, so per-position
draws cost one mix each.
A row's ``key`` combines its user and view (see :func:`stream_keys`), so results never depend
on batch size or row order.
"""

from __future__ import annotations

import numpy as np

from recaug.random import GOLDEN_GAMMA, counter_bits, key_state, mix64, to_unit

#: Counter ranges used by the operations; a draw's counter is ``purpose * 2**32 + position``.
PURPOSE_ROW = 0  # per-row draws (start positions, op choices): counter = PURPOSE_ROW * 2**32 + j
PURPOSE_POS = 1  # per-position draws (which positions to touch)
PURPOSE_VAL = 2  # per-position draws (replacement values)
PURPOSE_AUX = 3  # anything else per position


def stream_keys(users: np.ndarray, views: np.ndarray | int) -> np.ndarray:
    """Stream key of each row: ``user`` in the high 32 bits, ``view`` in the low 32 bits."""
    u = np.asarray(users).astype(np.uint32).astype(np.uint64)
    v = np.asarray(views).astype(np.uint32).astype(np.uint64)
    return (u << np.uint64(32)) | v


def sub_key(keys: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Keys for rows derived from one row (e.g. the windows of a Slice): hash of (key, index)."""
    return mix64(np.asarray(keys, dtype=np.uint64) ^ mix64(np.asarray(index).astype(np.uint64) + GOLDEN_GAMMA))


def sub_seed(seed: int, salt: int) -> int:
    """An independent seed for stage ``salt`` of a combinator."""
    return int(mix64(np.array([int(seed) & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64) ^ np.uint64(salt + 1))[0])


#: Per-row stream state ``mix(seed ^ mix(key))``.
row_state = key_state


def counter_table(purpose: int, n: int) -> np.ndarray:
    """The counter part of draws ``0 .. n-1`` of ``purpose``."""
    return counter_bits(np.uint64(purpose) * np.uint64(1 << 32) + np.arange(n, dtype=np.uint64))


def row_bits(state: np.ndarray, purpose: int = PURPOSE_ROW, j: int = 0) -> np.ndarray:
    """64 random bits per row for draw ``j`` of ``purpose``."""
    return mix64(state ^ counter_table(purpose, j + 1)[j])


def row_uniform(state: np.ndarray, purpose: int = PURPOSE_ROW, j: int = 0) -> np.ndarray:
    """One uniform [0, 1) per row; equals ``hash_uniform(seed, key, purpose * 2**32 + j)``."""
    return to_unit(row_bits(state, purpose, j))


def position_bits(state: np.ndarray, row: np.ndarray, pos: np.ndarray, purpose: int) -> np.ndarray:
    """64 random bits per element, element ``i`` from row ``row[i]`` at position ``pos[i]``."""
    n = int(pos.max()) + 1 if len(pos) else 0
    return mix64(state[row] ^ counter_table(purpose, n)[pos])


def position_uniform(state: np.ndarray, row: np.ndarray, pos: np.ndarray, purpose: int) -> np.ndarray:
    """Uniform [0, 1) per element; equals ``hash_uniform(seed, key[row], purpose * 2**32 + pos)``."""
    return to_unit(position_bits(state, row, pos, purpose))
