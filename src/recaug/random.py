"""Seeds and random streams.

Every random component takes a ``seed``. Per-user streams are derived from ``(seed, user)``
so results never depend on batch size, worker count or engine. The counter-based streams
(:func:`hash_uniform`, and the augmenters' and synthesizers' streams built on :func:`mix64`,
:func:`key_state` and :func:`counter_bits`) all share the one SplitMix64 mixer defined here.
"""

from __future__ import annotations

import numpy as np


def as_generator(seed: int | np.random.Generator | None) -> np.random.Generator:
    """Return a NumPy generator for ``seed`` (an int, an existing generator, or None)."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def derive_rng(seed: int, key: int) -> np.random.Generator:
    """An independent generator for one key (for example a user id) under ``seed``."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, int(key) & 0xFFFFFFFF])


#: SplitMix64's increment (the golden ratio in 64 bits)
GOLDEN_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_COUNTER_MUL = np.uint64(0xD1B54A32D192ED03)
_TO_UNIT = 1.0 / (1 << 53)


def mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 on a uint64 array (wrapping arithmetic); the mixer of every counter-based stream."""
    with np.errstate(over="ignore"):
        x = np.asarray(x, dtype=np.uint64) + GOLDEN_GAMMA
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return x


def key_state(seed: int, keys: np.ndarray) -> np.ndarray:
    """Stream state of each uint64 key under ``seed``: ``mix(seed ^ mix(key))``."""
    return mix64(np.uint64(int(seed) & 0xFFFFFFFFFFFFFFFF) ^ mix64(keys))


def counter_bits(counter: np.ndarray) -> np.ndarray:
    """The counter part of a draw: ``mix(counter * C)`` for uint64 counters."""
    with np.errstate(over="ignore"):
        return mix64(np.asarray(counter, dtype=np.uint64) * _COUNTER_MUL)


def to_unit(bits: np.ndarray) -> np.ndarray:
    """Uniform [0, 1) float64 numbers from 64 random bits (the top 53)."""
    return (bits >> np.uint64(11)).astype(np.float64) * _TO_UNIT


def hash_uniform(seed: int, keys: np.ndarray, counter: np.ndarray | int = 0) -> np.ndarray:
    """Uniform [0, 1) numbers that are a pure function of (seed, key, counter).

    Vectorised counter-based randomness: element ``i`` depends only on ``keys[i]`` and
    ``counter[i]``, never on its position in the array, so any batching gives the same draws.
    The draw is ``to_unit(mix(key_state(seed, key) ^ counter_bits(counter)))``.
    """
    keys = np.asarray(keys).astype(np.uint64)
    counter = np.asarray(counter).astype(np.uint64)
    return to_unit(mix64(key_state(seed, keys) ^ counter_bits(counter)))
