"""Per-epoch checkpoints: a fit killed after any epoch resumes to exactly the uninterrupted model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest
import torch

from conftest import random_split
from recaug import columns as C
from recaug.errors import ConfigError
from recaug.generate import get_synthesizer
from recaug.models import BPRMF, MultVAE, SASRec
from recaug.models import training as training_module
from recaug.split import Split

SETTINGS: dict[str, dict[str, Any]] = {
    "sasrec-bce+cl4srec": {"cls": SASRec, "max_len": 8, "hidden": 16, "dropout": 0.3, "contrastive": "cl4srec"},
    "sasrec-ce+duorec": {"cls": SASRec, "max_len": 8, "hidden": 16, "dropout": 0.3, "loss": "ce", "contrastive": "duorec"},
    "bpr": {"cls": BPRMF, "dim": 8},
    "multvae": {"cls": MultVAE, "hidden_dims": [16], "latent_dim": 8, "total_anneal_steps": 5},
}


@pytest.fixture(scope="module")
def split() -> Split:
    return random_split(5, 30, (3, 9), 25)


def make(name: str, **train: Any) -> Any:
    settings = dict(SETTINGS[name])
    cls = settings.pop("cls")
    return cls(**{"seed": 3, "epochs": 8, "batch_size": 8, "eval_every": 1, "patience": 4, **settings, **train})


class Killed(Exception):
    """Stands in for the job being killed."""


def kill_after(monkeypatch: pytest.MonkeyPatch, epoch: int) -> None:
    """Make the fit die while epoch ``epoch + 1`` is reported, i.e. after ``epoch`` was saved."""
    report = training_module._Reporter.epoch

    def epoch_then_die(self: Any, record: dict[str, Any], metric: str) -> None:
        if record["epoch"] == epoch + 1:
            raise Killed
        report(self, record, metric)

    monkeypatch.setattr(training_module._Reporter, "epoch", epoch_then_die)


def assert_same_state(a: Any, b: Any) -> None:
    """Bit-identical learned state (weights and extra state)."""
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key, value in sb.items():
        same = torch.equal(sa[key], value) if isinstance(value, torch.Tensor) else sa[key] == value
        assert same, key


def without_seconds(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in h.items() if k != "seconds"} for h in history]


@pytest.mark.parametrize("name", list(SETTINGS))
@pytest.mark.parametrize("killed_after", [1, 3])
def test_resumed_fit_equals_uninterrupted_fit(
    name: str, killed_after: int, split: Split, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    straight = make(name).fit(split.train, split.valid)

    path = tmp_path / "fit.ckpt"
    with monkeypatch.context() as patch:
        kill_after(patch, killed_after)
        with pytest.raises(Killed):
            make(name, checkpoint=str(path)).fit(split.train, split.valid)
    assert path.exists()
    resumed = make(name, checkpoint=str(path)).fit(split.train, split.valid)

    assert not path.exists()  # a completed fit leaves nothing to resume
    assert without_seconds(resumed.history_) == without_seconds(straight.history_)
    assert resumed.best_epoch_ == straight.best_epoch_
    assert_same_state(resumed, straight)


def test_early_stopped_checkpoint_does_not_train_on(split: Split, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A kill between the early-stopping epoch's save and the end of ``fit`` must not add epochs."""
    straight = make("bpr", epochs=40, patience=1).fit(split.train, split.valid)
    assert len(straight.history_) < 40  # it did stop early
    path = tmp_path / "fit.ckpt"
    with monkeypatch.context() as patch:
        patch.setattr(Path, "unlink", lambda self, missing_ok=False: (_ for _ in ()).throw(Killed()))
        with pytest.raises(Killed):
            make("bpr", epochs=40, patience=1, checkpoint=str(path)).fit(split.train, split.valid)
    resumed = make("bpr", epochs=40, patience=1, checkpoint=str(path)).fit(split.train, split.valid)
    assert without_seconds(resumed.history_) == without_seconds(straight.history_)
    assert_same_state(resumed, straight)


def interrupted(split: Split, path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as patch:
        kill_after(patch, 2)
        with pytest.raises(Killed):
            make("bpr", checkpoint=str(path)).fit(split.train, split.valid)


def test_checkpoint_of_other_settings_is_refused(split: Split, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "fit.ckpt"
    interrupted(split, path, monkeypatch)
    with pytest.raises(ConfigError, match=r"fit\.ckpt belongs to another fit.*settings \['lr'\]"):
        make("bpr", checkpoint=str(path), lr=0.01).fit(split.train, split.valid)
    assert path.exists()  # refused, not overwritten


def test_checkpoint_of_other_data_is_refused(split: Split, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "fit.ckpt"
    interrupted(split, path, monkeypatch)
    other = random_split(6, 30, (3, 9), 25)
    with pytest.raises(ConfigError, match="differs in: .*data"):
        make("bpr", checkpoint=str(path)).fit(other.train, split.valid)


def test_unreadable_checkpoint_names_the_file(split: Split, tmp_path: Path) -> None:
    path = tmp_path / "fit.ckpt"
    path.write_text("not a checkpoint")
    with pytest.raises(ConfigError, match=r"fit\.ckpt cannot be read"):
        make("bpr", checkpoint=str(path)).fit(split.train, split.valid)


SYNTHESIZERS: dict[str, dict[str, Any]] = {
    "vae": {"hidden_dims": [16], "latent_dim": 4, "beta": 0.2},
    "gan": {"hidden": 16, "noise_dim": 4},
    "sequence": {"hidden": 8, "n_layers": 1, "n_heads": 1, "max_len": 10},
    "vae-holdout": {"hidden_dims": [16], "latent_dim": 4, "holdout_users": 8, "patience": 3},
}


def synthesizer(name: str, **extra: Any) -> Any:
    kind = name.split("-")[0]
    settings = {"epochs": 6, "batch_size": 8, "seed": 2, "device": "cpu", **SYNTHESIZERS[name], **extra}
    return get_synthesizer(kind)(**settings)


@pytest.mark.parametrize("name", list(SYNTHESIZERS))
def test_resumed_synthesizer_samples_as_the_uninterrupted_one(
    name: str, split: Split, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    straight = synthesizer(name).fit(split.train)

    path = tmp_path / "synth.ckpt"
    with monkeypatch.context() as patch:
        kill_after(patch, 3)
        with pytest.raises(Killed):
            synthesizer(name, checkpoint=str(path)).fit(split.train)
    resumed = synthesizer(name, checkpoint=str(path)).fit(split.train)

    assert not path.exists()
    assert without_seconds(resumed.loss_history_) == without_seconds(straight.loss_history_)
    assert "checkpoint" not in resumed.config()
    assert resumed.sample(20, seed=1).equals(straight.sample(20, seed=1))
    histories = split.train.filter(pl.col(C.USER) < 10)
    assert resumed.complete(histories, 3, seed=1).equals(straight.complete(histories, 3, seed=1))
