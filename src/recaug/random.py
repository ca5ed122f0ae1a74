"""Seeds and random streams.

Every random component takes a ``seed``. Per-user streams are derived from ``(seed, user)``
so results never depend on batch size, worker count or engine.
"""

from __future__ import annotations

import numpy as np

_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def as_generator(seed: int | np.random.Generator | None) -> np.random.Generator:
    """Return a NumPy generator for ``seed`` (an int, an existing generator, or None)."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def derive_rng(seed: int, key: int) -> np.random.Generator:
    """An independent generator for one key (for example a user id) under ``seed``."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, int(key) & 0xFFFFFFFF])


def _splitmix64(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.uint64, copy=True)
    with np.errstate(over="ignore"):
        x += np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
    return x


def hash_uniform(seed: int, keys: np.ndarray, counter: np.ndarray | int = 0) -> np.ndarray:
    """Uniform [0, 1) numbers that are a pure function of (seed, key, counter).

    Vectorised counter-based randomness: element ``i`` depends only on ``keys[i]`` and
    ``counter[i]``, never on its position in the array, so any batching gives the same draws.
    """
    keys = np.asarray(keys).astype(np.uint64)
    counter = np.asarray(counter).astype(np.uint64)
    with np.errstate(over="ignore"):
        h = _splitmix64(np.uint64(int(seed) & 0xFFFFFFFFFFFFFFFF) ^ _splitmix64(keys))
        h = _splitmix64(h ^ _splitmix64(counter * np.uint64(0xD1B54A32D192ED03)))
    return (h >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))
