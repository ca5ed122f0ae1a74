"""The shared training loop: early stopping, best-epoch restore, logging, threads, validation data."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from torch import nn

from recaug.data import Interactions
from recaug.data.sequences import Sequences
from recaug.errors import ConfigError
from recaug.models.training import TrainConfig, adam, fit_loop, validation_data

ITEM_SPACE = 13  # real items 2..12
GOOD_EPOCH = 3


class Counter(nn.Module):
    """One parameter that SGD(lr=1) on loss ``-w`` raises by exactly 1 per step."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(()))


class ScriptedModel:
    """Ranks the target first only while ``w == GOOD_EPOCH``, last otherwise."""

    def __init__(self, module: Counter) -> None:
        self.module = module

    def score(self, histories: Sequences) -> torch.Tensor:
        scores = torch.zeros(len(histories), ITEM_SPACE)
        good = round(float(self.module.w.detach())) == GOOD_EPOCH
        scores[:, 2] = 1.0 if good else -1.0
        return scores


def run(epochs: int, patience: int | None, **config) -> tuple[ScriptedModel, Counter]:
    module = Counter()
    model = ScriptedModel(module)
    valid = (Sequences.from_lists([[5, 6]]), np.array([2]))
    fit_loop(
        model,
        module,
        lambda rows: -module.w * len(rows),
        1,
        TrainConfig(epochs=epochs, batch_size=1, patience=patience, progress=False, **config),
        generator=torch.Generator().manual_seed(0),
        valid=valid,
        optimizer=torch.optim.SGD(module.parameters(), lr=1.0),
    )
    return model, module


def test_early_stopping_restores_best_epoch():
    model, module = run(epochs=50, patience=2)
    assert [r["epoch"] for r in model.history_] == [1, 2, 3, 4, 5]
    assert model.best_epoch_ == GOOD_EPOCH
    assert float(module.w.detach()) == GOOD_EPOCH  # weights of the best epoch, not the last
    assert model.history_[GOOD_EPOCH - 1]["metric"] == 1.0
    assert all(set(r) == {"epoch", "loss", "metric", "seconds"} for r in model.history_)


def test_eval_every_and_no_patience():
    model, module = run(epochs=6, patience=None, eval_every=3)
    assert [r["metric"] is None for r in model.history_] == [True, True, False, True, True, False]
    assert model.best_epoch_ == GOOD_EPOCH and float(module.w.detach()) == GOOD_EPOCH


def test_valid_from_skips_early_validation():
    # the scripted best epoch (3) comes before valid_from, so it can never be chosen
    model, module = run(epochs=8, patience=2, valid_from=5)
    assert [r["metric"] is None for r in model.history_] == [True] * 4 + [False] * 3  # stale at 6, 7
    assert model.best_epoch_ == 5 and float(module.w.detach()) == 5
    model, _ = run(epochs=8, patience=None, valid_from=4, eval_every=2)
    assert [r["epoch"] for r in model.history_ if r["metric"] is not None] == [4, 6, 8]


def test_log_line_per_epoch_and_threads_restored(caplog):
    before = torch.get_num_threads()
    with caplog.at_level(logging.INFO, logger="recaug.models.training"):
        run(epochs=2, patience=None, threads=1)
    lines = [r.getMessage() for r in caplog.records if "epoch" in r.getMessage()]
    assert len(lines) == 2 and "loss" in lines[0] and "NDCG@10" in lines[0] and lines[0].endswith("s")
    assert torch.get_num_threads() == before


def test_validation_data_uses_train_history_and_first_valid_item():
    train = Interactions.from_arrays([0, 0, 2], [2, 3, 4], [1, 2, 1])
    valid = Interactions.from_arrays([0, 1, 2, 2], [5, 6, 8, 7], [3, 1, 3, 2])
    histories, targets = validation_data(train, valid)
    assert histories.users.tolist() == [0, 1, 2]
    assert histories.to_lists() == [[2, 3], [], [4]]
    assert targets.tolist() == [5, 6, 7]


def test_validation_histories_are_the_real_rows_only():
    """Synthetic rows neither enter the validation input nor get masked (same history as the control)."""
    real = Interactions.from_arrays([0, 0, 1], [2, 3, 4], [1, 2, 1])
    synthetic = Interactions.from_arrays([0, 1], [9, 8], [0, 0], source=np.array(["vae", "vae"]))
    valid = Interactions.from_arrays([0, 1], [5, 6], [3, 2])
    fused = real.concat(synthetic)
    assert validation_data(fused, valid)[0].to_lists() == validation_data(real, valid)[0].to_lists() == [[2, 3], [4]]
    only_synthetic = validation_data(synthetic, valid)[0]
    assert only_synthetic.to_lists() == [[], []]


def test_bad_settings_are_rejected():
    with pytest.raises(ConfigError):
        TrainConfig(valid_metric="AUC@10")
    with pytest.raises(ConfigError):
        TrainConfig(patience=0)
    with pytest.raises(ConfigError):
        TrainConfig(valid_from=0)


def test_adam_helper_is_fused_and_updates_like_plain_adam():
    finals = []
    for make in (torch.optim.Adam, adam):
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Linear(30, 8), torch.nn.Linear(8, 30))
        opt = make(net.parameters(), lr=1e-2, weight_decay=0.01)
        gen = torch.Generator().manual_seed(1)
        for _ in range(20):
            for p in net.parameters():
                p.grad = torch.randn(p.shape, generator=gen)
            opt.step()
        finals.append(torch.cat([p.detach().flatten() for p in net.parameters()]))
    assert opt.defaults["fused"] is True
    assert torch.allclose(finals[0], finals[1], atol=1e-6)
    frozen = torch.nn.Linear(3, 3)
    frozen.bias.requires_grad_(False)
    assert len(adam(frozen.parameters(), lr=1e-3).param_groups[0]["params"]) == 1


def test_long_epochs_log_progress_off_a_tty(monkeypatch, caplog):
    """Off a TTY, a long epoch prints batch progress lines (issue 35 B.6)."""
    from recaug.models import get_model_class
    from recaug.models import training as T

    monkeypatch.setattr(T, "BATCH_LOG_SECONDS", 0.0)
    train = Interactions.from_arrays(np.repeat(np.arange(20), 4), np.tile([2, 3, 4, 5], 20))
    model = get_model_class("bpr")(epochs=2, batch_size=16, progress=False, device="cpu")
    with caplog.at_level("INFO", logger="recaug.models.training"):
        model.fit(train)
    assert "BPRMF epoch 1/2: batch 1/5 (20%)" in caplog.text
    assert "BPRMF epoch 2/2: loss" in caplog.text
