"""Warm starting a sequence model from another fitted one (``fit(..., init_from=)``), as ASReP does."""

from __future__ import annotations

import pytest
import torch

from conftest import random_split
from recaug.data.sequences import Sequences
from recaug.errors import ConfigError, NotFittedError
from recaug.generate import from_config
from recaug.models import GRU4Rec, SASRec

torch.set_num_threads(1)

TINY = {"hidden": 8, "n_layers": 1, "n_heads": 1, "max_len": 8, "batch_size": 8}
TINY.update(device="cpu", progress=False, threads=1)


@pytest.fixture(scope="module")
def split():
    return random_split(4, 30, (3, 8), 25)


@pytest.fixture(scope="module")
def source(split):
    return SASRec(**TINY, epochs=3, seed=1).fit(split.train, item_space=30)


def test_zero_epochs_from_a_source_reproduces_it(split, source):
    hist = Sequences.from_interactions(split.history("test"))
    copy = SASRec(**TINY, epochs=0, seed=9).fit(split.train, item_space=30, init_from=source)
    assert torch.equal(copy.score(hist), source.score(hist))
    fresh = SASRec(**TINY, epochs=0, seed=9).fit(split.train, item_space=30)
    assert not torch.equal(fresh.score(hist), source.score(hist))


def test_fine_tuning_moves_away_from_the_source_deterministically(split, source):
    hist = Sequences.from_interactions(split.history("test"))
    a = SASRec(**TINY, epochs=2, seed=2).fit(split.train, split.valid, item_space=30, init_from=source)
    b = SASRec(**TINY, epochs=2, seed=2).fit(split.train, split.valid, item_space=30, init_from=source)
    assert torch.equal(a.score(hist), b.score(hist))
    assert not torch.equal(a.score(hist), source.score(hist))
    # the source is not modified by fine-tuning a copy of its weights
    again = SASRec(**TINY, epochs=0, seed=9).fit(split.train, item_space=30, init_from=source)
    assert torch.equal(again.score(hist), source.score(hist))


def test_mismatches_are_clear_errors(split, source):
    with pytest.raises(ConfigError, match="mismatched parameters"):
        SASRec(**{**TINY, "hidden": 16}, epochs=0).fit(split.train, item_space=30, init_from=source)
    with pytest.raises(ConfigError, match="item space 30 vs 40"):
        SASRec(**TINY, epochs=0).fit(split.train, item_space=40, init_from=source)
    with pytest.raises(ConfigError, match="must be a fitted GRU4Rec"):
        GRU4Rec(hidden=8, max_len=8, epochs=0, device="cpu").fit(split.train, init_from=source)
    with pytest.raises(NotFittedError):
        SASRec(**TINY, epochs=0).fit(split.train, item_space=30, init_from=SASRec(**TINY))


def test_asrep_fine_tunes_the_reversed_synthesizer(split):
    synth = from_config({"method": "sequence", "direction": "backward", **TINY, "epochs": 2, "seed": 0})
    synth.fit(split.train, item_space=30)
    model = SASRec(**TINY, epochs=1, seed=0).fit(split.train, split.valid, item_space=30, init_from=synth.model_)
    hist = Sequences.from_interactions(split.history("test"))
    scores = model.score(hist)
    assert scores.shape == (len(split.test.users), 30)
    # it starts from the synthesizer's reversed-sequence network (zero epochs reproduce it) and
    # one epoch of fine-tuning differs from both that network and a cold start with the same seed
    start = SASRec(**TINY, epochs=0, seed=0).fit(split.train, item_space=30, init_from=synth.model_)
    assert torch.equal(start.score(hist), synth.model_.score(hist))
    cold = SASRec(**TINY, epochs=1, seed=0).fit(split.train, split.valid, item_space=30)
    assert not torch.equal(scores, cold.score(hist)) and not torch.equal(scores, synth.model_.score(hist))
