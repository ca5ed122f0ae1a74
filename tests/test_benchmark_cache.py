"""benchmarks/_cache.py: a fit is reused only for the same settings and the same committed code."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch

from conftest import random_split
from recaug.data.sequences import Sequences
from recaug.models import BPRMF, Recommender

_spec = importlib.util.spec_from_file_location("_cache", Path(__file__).resolve().parents[1] / "benchmarks" / "_cache.py")
cache = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cache)


def test_entry_key_needs_named_code_and_follows_every_setting():
    assert cache.entry_key("control", {"seed": 0}, None) is None
    assert cache.entry_key("control", {"seed": 0}, "abc1234-dirty") is None
    key = cache.entry_key("control", {"seed": 0, "model": "bpr"}, "abc1234")
    assert key == cache.entry_key("control", {"model": "bpr", "seed": 0}, "abc1234")  # order-free
    assert key != cache.entry_key("control", {"seed": 1, "model": "bpr"}, "abc1234")
    assert key != cache.entry_key("control", {"seed": 0, "model": "bpr"}, "def5678")
    assert key != cache.entry_key("synthesizer", {"seed": 0, "model": "bpr"}, "abc1234")


def test_fitted_reuses_a_saved_fit(tmp_path: Path):
    split = random_split(0, 20, (4, 8), 30)
    calls: list[int] = []

    def fit():
        calls.append(1)
        return BPRMF(epochs=2, dim=8).fit(split.train, item_space=30), {"fit": 1.5}

    first, meta, hit = cache.fitted(tmp_path, "control", {"seed": 0}, "abc1234", fit, Recommender.load)
    assert (meta, hit, len(calls)) == ({"fit": 1.5}, False, 1)
    again, meta, hit = cache.fitted(tmp_path, "control", {"seed": 0}, "abc1234", fit, Recommender.load)
    assert (meta, hit, len(calls)) == ({"fit": 1.5}, True, 1)
    histories = Sequences.from_interactions(split.train)
    assert torch.equal(first.score(histories), again.score(histories))
    cache.fitted(tmp_path, "control", {"seed": 0}, "abc1234-dirty", fit, Recommender.load)
    cache.fitted(None, "control", {"seed": 0}, "abc1234", fit, Recommender.load)
    assert len(calls) == 3  # neither a dirty tree nor a run without --cache reads the cache
    assert len(list(tmp_path.iterdir())) == 1
