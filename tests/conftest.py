"""Shared fixtures: small hand-made data, never ../shared."""

from __future__ import annotations

import importlib.util
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from recaug.data import Interactions
from recaug.split import LeaveLastOut, Split


@pytest.fixture
def tiny_interactions() -> Interactions:
    """Three users with 4, 2 and 1 interactions; item codes start at 2."""
    return Interactions.from_arrays([0, 0, 0, 0, 1, 1, 2], [2, 3, 4, 5, 2, 3, 9])


def random_split(seed: int, n_users: int, lengths: tuple[int, int], n_items: int) -> Split:
    """Leave-last-out split of random histories: per user ``lengths`` (low, high) items from 2..n_items-1."""
    rng = np.random.default_rng(seed)
    users, items = [], []
    for user in range(n_users):
        for _ in range(int(rng.integers(*lengths))):
            users.append(user)
            items.append(int(rng.integers(2, n_items)))
    return LeaveLastOut().split(Interactions.from_arrays(users, items))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture
def restore_recaug_logger() -> Iterator[None]:
    """The CLI configures the ``recaug`` logger; put it back so other tests see the defaults."""
    logger = logging.getLogger("recaug")
    handlers, level = list(logger.handlers), logger.level
    yield
    logger.handlers[:] = handlers
    logger.setLevel(level)


BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def load_benchmark(name: str) -> ModuleType:
    """``benchmarks/<name>.py`` as a module (its sibling helpers, e.g. ``_common``, importable)."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # its dataclasses look their module up
        spec.loader.exec_module(module)
    finally:
        sys.path.pop(0)
        sys.modules.pop(name, None)
    return module
