"""Every recommender honours the ``Recommender`` contract (small hand-made data)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from recaug.data import Interactions
from recaug.data.sequences import Sequences
from recaug.errors import ConfigError, DataError, NotFittedError
from recaug.models import (
    BPRMF,
    GRU4Rec,
    ItemKNN,
    MultVAE,
    Popularity,
    Recommender,
    SASRec,
    get_model_class,
)
from recaug.split import LeaveLastOut

N_ITEMS = 12
ITEM_SPACE = N_ITEMS + 2
FAST = {"epochs": 3, "batch_size": 8, "device": "cpu", "progress": False}
SETTINGS: dict[type[Recommender], dict] = {
    Popularity: {},
    ItemKNN: {"k": 5, "shrink": 1.0},
    BPRMF: {"dim": 8, **FAST},
    MultVAE: {"hidden_dims": [16], "latent_dim": 8, **FAST},
    GRU4Rec: {"hidden": 8, "max_len": 10, **FAST},
    SASRec: {"hidden": 8, "n_layers": 1, "n_heads": 2, "max_len": 10, **FAST},
}
MODELS = list(SETTINGS)


def make(cls: type[Recommender], seed: int = 0) -> Recommender:
    return cls(seed=seed, **SETTINGS[cls])


@pytest.fixture(scope="module")
def split():
    rng = np.random.default_rng(0)
    users, items = [], []
    for user in range(24):
        start = int(rng.integers(0, N_ITEMS))
        for step in range(int(rng.integers(4, 9))):
            users.append(user)
            items.append(2 + (start + step) % N_ITEMS)
    return LeaveLastOut().split(Interactions.from_arrays(users, items))


@pytest.fixture(scope="module")
def fitted(split) -> dict[type[Recommender], Recommender]:
    return {cls: make(cls).fit(split.train, split.valid, item_space=ITEM_SPACE) for cls in MODELS}


@pytest.fixture(scope="module")
def histories(split) -> Sequences:
    return Sequences.from_interactions(split.history("test"))


def check_scores(scores: torch.Tensor, rows: int) -> None:
    assert scores.shape == (rows, ITEM_SPACE)
    assert scores.dtype == torch.float32 and scores.device.type == "cpu"
    assert torch.isneginf(scores[:, :2]).all()
    assert torch.isfinite(scores[:, 2:]).all()


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.name)
def test_fit_and_score_shapes(cls, fitted, histories):
    model = fitted[cls]
    assert model.item_space_ == ITEM_SPACE
    check_scores(model.score(histories), len(histories))
    candidates = np.array([5, 2, 7])
    assert torch.equal(model.score(histories, items=candidates), model.score(histories)[:, candidates])
    with pytest.raises(DataError):
        model.score(histories, items=np.array([ITEM_SPACE]))
    assert isinstance(model.history_, list)
    assert get_model_class(cls.name) is cls
    json.dumps(model.config())


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.name)
def test_save_load_gives_identical_scores(cls, fitted, histories, tmp_path):
    model = fitted[cls]
    model.save(tmp_path / "m")
    loaded = Recommender.load(tmp_path / "m")
    assert type(loaded) is cls and loaded.config() == model.config()
    assert torch.equal(loaded.score(histories), model.score(histories))


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.name)
def test_same_seed_same_scores(cls, fitted, split, histories):
    again = make(cls).fit(split.train, split.valid, item_space=ITEM_SPACE)
    assert torch.equal(again.score(histories), fitted[cls].score(histories))


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.name)
def test_unknown_users_and_empty_histories(cls, fitted):
    rows = Sequences.from_lists([[], [3, 4, 5], [], [2, 7, 99]], users=[0, 999, 998, 5])
    check_scores(fitted[cls].score(rows), 4)


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.name)
def test_not_fitted_error(cls, histories, tmp_path):
    model = make(cls)
    with pytest.raises(NotFittedError):
        model.score(histories)
    with pytest.raises(NotFittedError):
        model.save(tmp_path / "m")


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.name)
def test_recommend_excludes_seen(cls, fitted, histories):
    top = fitted[cls].recommend(histories, k=3)
    assert top.shape == (len(histories), 3)
    for row, recs in enumerate(top):
        assert not set(recs.tolist()) & set(histories[row].tolist())
        assert (recs >= 2).all()


@pytest.mark.parametrize("cls", [BPRMF, MultVAE, GRU4Rec, SASRec], ids=lambda c: c.name)
def test_unknown_training_setting_is_a_config_error(cls):
    with pytest.raises(ConfigError):
        cls(epochz=3)
