"""Seeded randomness: counter-based streams do not depend on batching."""

from __future__ import annotations

import numpy as np

from recaug.random import as_generator, derive_rng, hash_uniform


def test_hash_uniform_is_a_pure_function_of_seed_key_counter() -> None:
    keys = np.arange(1000)
    full = hash_uniform(7, keys, 3)
    parts = np.concatenate([hash_uniform(7, keys[:400], 3), hash_uniform(7, keys[400:], 3)])
    assert np.array_equal(full, parts)
    assert np.array_equal(hash_uniform(7, keys[::-1], 3), full[::-1])
    assert not np.array_equal(full, hash_uniform(8, keys, 3))
    assert not np.array_equal(full, hash_uniform(7, keys, 4))


def test_hash_uniform_looks_uniform() -> None:
    u = hash_uniform(0, np.arange(200_000), 0)
    assert u.min() >= 0.0 and u.max() < 1.0
    hist, _ = np.histogram(u, bins=10, range=(0, 1))
    assert np.all(np.abs(hist / len(u) - 0.1) < 0.01)


def test_generators_are_seeded() -> None:
    assert as_generator(3).integers(0, 10**9) == as_generator(3).integers(0, 10**9)
    g = as_generator(1)
    assert as_generator(g) is g
    assert derive_rng(1, 5).random() == derive_rng(1, 5).random()
    assert derive_rng(1, 5).random() != derive_rng(1, 6).random()
