"""Pipeline commands: run, report, config show|validate|schema, tune, train --config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from cli_helpers import invoke

TINY = {
    "name": "tiny",
    "data": {"source": "simulate", "simulate": {"n_users": 100, "n_items": 50, "seed": 3}},
    "preprocess": {
        "steps": [{"step": "dedup", "mode": "consecutive"}, {"step": "min_length", "n": 3}, {"step": "remap"}]
    },  # fmt: skip
    "train": {"model": "pop"},
    "evaluate": {"ks": [5, 10], "bootstrap": 50},
    "fuse": {"quality": False},
    "seeds": [0],
    "variants": {"control": {}, "crop": {"expand": {"policy": {"op": "crop", "eta": 0.6}, "n_views": 1}}},
}


pytestmark = pytest.mark.usefixtures("restore_recaug_logger")


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY), encoding="utf-8")
    return path


def test_run_then_refuse_resume_force_and_report(config: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = invoke("run", config, "--out", out)
    assert result.exit_code == 0, result.output
    for stage in ("data", "preprocess", "split", "expand", "fuse", "train", "evaluate", "report"):
        assert any(line.startswith(stage) for line in result.stdout.splitlines()), stage
    assert "report.html" in result.stdout.splitlines()[-1]
    for name in ("report.html", "results.json", "manifest.json", "protocol.json"):
        assert (out / name).is_file(), name
    again = invoke("run", config, "--out", out)
    assert again.exit_code == 2 and "--resume" in again.stderr
    resumed = invoke("run", config, "--out", out, "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert "0 stage(s) ran" in resumed.stdout.splitlines()[-1]
    changed = invoke("run", config, "--out", out, "--resume", "--set", "train.model=itemknn")
    assert changed.exit_code == 0, changed.output
    assert "cached" in changed.stdout and "train [control, seed 0]            ran" in changed.stdout
    (out / "report.html").unlink()
    report = invoke("report", out)
    assert report.exit_code == 0, report.output
    assert (out / "report.html").is_file()
    forced = invoke("-q", "run", config, "--out", out, "--force", "--only", "split")
    assert forced.exit_code == 0, forced.output
    assert forced.stdout == ""
    manifest = json.loads((out / "manifest.json").read_text())
    assert {s["stage"] for s in manifest["stages"]} == {"data", "preprocess", "split"}


def test_run_errors(config: Path, tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    result = invoke("run", missing, "--out", tmp_path / "r")
    assert result.exit_code == 3 and str(missing) in result.stderr
    bad = invoke("run", config, "--out", tmp_path / "r", "--set", "train.epochs=3")
    assert bad.exit_code == 2 and "train.epochs" in bad.stderr
    assert invoke("run", config, "--out", tmp_path / "r", "--only", "nonsense").exit_code == 2
    assert invoke("run", config, "--out", tmp_path / "r", "--set", "novalue").exit_code == 2
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").iterdir())
    result = invoke("report", tmp_path / "no-run")
    assert result.exit_code == 3 and "no-run" in result.stderr


def test_config_show_validate_schema(config: Path, tmp_path: Path) -> None:
    shown = invoke("config", "show", config, "--set", "seeds=[1, 2]")
    assert shown.exit_code == 0, shown.output
    doc = yaml.safe_load(shown.stdout)
    assert doc["seeds"] == [1, 2] and doc["split"]["protocol"] == "leave_last_out"
    as_json = invoke("config", "show", config, "--json")
    assert json.loads(as_json.stdout)["name"] == "tiny"
    ok = invoke("config", "validate", config)
    assert ok.exit_code == 0 and "ok" in ok.stdout
    bad_doc = {**TINY, "train": {"model": "pop", "epochs": 3}}
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(bad_doc), encoding="utf-8")
    result = invoke("config", "validate", bad)
    assert result.exit_code == 2 and "train.epochs" in result.stderr
    unknown_model = invoke("config", "validate", config, "--set", "train.model=nope")
    assert unknown_model.exit_code == 2 and "nope" in unknown_model.stderr
    schema = invoke("config", "schema")
    assert schema.exit_code == 0
    assert "properties" in json.loads(schema.stdout)
    assert invoke("config", "validate", "builtin:demo").exit_code == 0
    assert invoke("config", "show", "builtin:nothing").exit_code == 2


def test_train_with_config_trains_every_variant(config: Path, tmp_path: Path) -> None:
    out = tmp_path / "trun"
    result = invoke("train", "--config", config, "-o", out, "--json")
    assert result.exit_code == 0, result.output
    models = json.loads(result.stdout)["models"]
    assert set(models) == {"control/0", "crop/0"}
    assert all((Path(p) / "config.json").is_file() for p in models.values())
    assert invoke("train", "-o", out).exit_code == 2  # neither DATA/--model nor --config


def test_tune_two_trials(config: Path, tmp_path: Path) -> None:
    pytest.importorskip("optuna")
    out = tmp_path / "tune"
    result = invoke("tune", config, "--trials", "2", "--out", out)
    assert result.exit_code == 0, result.output
    assert "best valid NDCG@10" in result.stdout
    for name in ("tune/study.json", "tune/best_policy.yaml", "report.html"):
        assert (out / name).is_file(), name
    assert invoke("tune", config, "--trials", "0", "--out", tmp_path / "t0").exit_code == 2
