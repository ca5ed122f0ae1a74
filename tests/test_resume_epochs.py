"""Raising the epoch cap on ``--resume`` continues the fit from its checkpoint instead of retraining.

A run trained to ``epochs: 3`` and resumed with ``--set train.params.epochs=6`` trains epochs 4-6
only and ends with exactly the model a straight 6-epoch run gives. A fit that stopped early
(patience) stays stopped; a lower cap than the checkpoint's epoch trains from scratch; a model
whose schedule reads the cap retrains.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import torch
import yaml

from cli_helpers import invoke
from recaug.models import GRU4Rec, MultVAE, SASRec
from recaug.models import training as training_module
from recaug.models.checkpoint import epochs_in_schedule
from recaug.pipeline import run_pipeline, validate_config

SASREC = {"max_len": 10, "hidden": 8, "n_layers": 1, "n_heads": 1, "batch_size": 64, "threads": 1, "progress": False}


def tiny(epochs: int, **params: Any) -> dict[str, Any]:
    """A small one-arm run of SASRec (no report)."""
    return {
        "name": "tiny",
        "data": {"source": "simulate", "simulate": {"n_users": 120, "n_items": 60, "seed": 3}},
        "preprocess": {"steps": [{"step": "dedup", "mode": "consecutive"}, {"step": "min_length", "n": 3},
                                 {"step": "remap"}]},
        "train": {"model": "sasrec", "params": {**SASREC, "patience": None, **params, "epochs": epochs}},
        "evaluate": {"ks": [5, 10], "bootstrap": 20},
        "report": {"enabled": False},
        "seeds": [0],
        "variants": {"control": {}},
    }  # fmt: skip


@pytest.fixture
def trained(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every epoch actually trained (the loop reports each one)."""
    epochs: list[int] = []
    report = training_module._Reporter.epoch

    def spy(self: Any, record: dict[str, Any], metric: str) -> None:
        epochs.append(record["epoch"])
        report(self, record, metric)

    monkeypatch.setattr(training_module._Reporter, "epoch", spy)
    return epochs


def train_dir(run_dir: Path) -> Path:
    """The train stage folder the last run of ``run_dir`` used."""
    results = json.loads((run_dir / "results.json").read_text())
    return run_dir / results["arms"]["control"]["0"]["stages"]["train"]


def train_info(run_dir: Path) -> dict[str, Any]:
    return json.loads((train_dir(run_dir) / "_DONE.json").read_text())["info"]


def weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return torch.load(train_dir(run_dir) / "model" / "state.pt", weights_only=True)


def per_user(run_dir: Path) -> pl.DataFrame:
    arm = json.loads((run_dir / "results.json").read_text())["arms"]["control"]["0"]
    return pl.read_parquet(run_dir / arm["stages"]["evaluate"] / "test" / "per_user.parquet")


def assert_same_model(a: Path, b: Path) -> None:
    """Bit-identical weights, settings, history and per-user results."""
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    for name in ("history.json", "model/config.json"):
        assert (train_dir(a) / name).read_bytes() == (train_dir(b) / name).read_bytes(), name
    assert per_user(a).equals(per_user(b))


@pytest.mark.usefixtures("restore_recaug_logger")
def test_resume_with_a_raised_cap_continues_the_fit(tmp_path: Path, trained: list[int]) -> None:
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(tiny(epochs=3)), encoding="utf-8")
    run_dir, straight = tmp_path / "run", tmp_path / "straight"
    assert invoke("run", config, "--out", run_dir).exit_code == 0
    assert trained == [1, 2, 3]

    del trained[:]
    resumed = invoke("run", config, "--out", run_dir, "--resume", "--set", "train.params.epochs=6")
    assert resumed.exit_code == 0, resumed.output
    assert trained == [4, 5, 6]  # continued after the checkpointed epoch 3, not started over
    info = train_info(run_dir)
    assert (info["epochs"], info["epochs_trained"]) == (6, 3)
    assert info["epoch_seconds"] > 0  # over both legs: the restored history keeps the first leg's times

    del trained[:]
    assert invoke("run", config, "--out", straight, "--set", "train.params.epochs=6").exit_code == 0
    assert trained == [1, 2, 3, 4, 5, 6]
    assert_same_model(run_dir, straight)


def test_an_early_stopped_fit_stays_stopped(
    tmp_path: Path, trained: list[int], caplog: pytest.LogCaptureFixture
) -> None:
    run_dir = tmp_path / "run"
    run_pipeline(validate_config(tiny(epochs=20, patience=1)), run_dir)
    stopped_at = trained[-1]
    assert stopped_at < 20, "the premise: patience 1 stops this fit early"

    del trained[:]
    with caplog.at_level(logging.INFO, logger="recaug"):
        run_pipeline(validate_config(tiny(epochs=40, patience=1)), run_dir, resume=True)
    assert trained == []  # raising the cap changes nothing
    assert f"stopped early at epoch {stopped_at} (patience)" in caplog.text
    assert train_info(run_dir)["epochs_trained"] == 0

    straight = tmp_path / "straight"
    run_pipeline(validate_config(tiny(epochs=40, patience=1)), straight)
    assert_same_model(run_dir, straight)


def test_a_lower_cap_than_the_checkpoint_trains_from_scratch(
    tmp_path: Path, trained: list[int], caplog: pytest.LogCaptureFixture
) -> None:
    run_dir, straight = tmp_path / "run", tmp_path / "straight"
    run_pipeline(validate_config(tiny(epochs=4)), run_dir)
    del trained[:]
    with caplog.at_level(logging.INFO, logger="recaug"):
        run_pipeline(validate_config(tiny(epochs=2)), run_dir, resume=True)
    assert trained == [1, 2]
    assert "is at epoch 4, past the epoch cap 2: training from scratch" in caplog.text
    run_pipeline(validate_config(tiny(epochs=2)), straight)
    assert_same_model(run_dir, straight)


def test_a_model_whose_schedule_reads_the_cap_retrains(
    tmp_path: Path, trained: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(SASRec, "epochs_in_schedule", True, raising=False)  # e.g. a learning-rate schedule
    run_dir = tmp_path / "run"
    run_pipeline(validate_config(tiny(epochs=2)), run_dir)
    assert not list((run_dir / "stages" / "train").glob(".checkpoint-*"))  # nothing a later cap could use
    del trained[:]
    run_pipeline(validate_config(tiny(epochs=3)), run_dir, resume=True)
    assert trained == [1, 2, 3]


def test_which_trainers_may_continue_under_another_cap() -> None:
    from recaug.generate import get_synthesizer

    assert not epochs_in_schedule(SASRec) and not epochs_in_schedule(GRU4Rec)
    assert not epochs_in_schedule(MultVAE(total_anneal_steps=10))  # anneals over updates, not epochs
    assert epochs_in_schedule(get_synthesizer("vae"))  # anneals over a fraction of ``epochs``
