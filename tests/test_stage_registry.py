"""One registry of stages drives the runner, the manifest and the CLI's ``--only`` choices."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from cli_helpers import invoke
from recaug.atomic import write_json
from recaug.pipeline import registry as R
from recaug.pipeline import run_pipeline, validate_config

TINY: dict[str, Any] = {
    "name": "tiny",
    "data": {"source": "simulate", "simulate": {"n_users": 100, "n_items": 50, "seed": 3}},
    "preprocess": {"steps": [{"step": "dedup", "mode": "consecutive"}, {"step": "min_length", "n": 3},
                             {"step": "remap"}]},
    "train": {"model": "pop"},
    "evaluate": {"ks": [5, 10], "bootstrap": 20},
    "fuse": {"quality": False},
    "seeds": [0],
    "variants": {
        "control": {},
        "both": {  # an arm where every stage applies
            "generate": {"method": "vae", "params": {"epochs": 1, "hidden_dims": [8], "latent_dim": 2, "threads": 1,
                                                     "progress": False}, "sample": {"n_users": 5}},
            "expand": {"policy": {"op": "crop", "eta": 0.6}},
        },
    },
}  # fmt: skip


def test_the_run_follows_the_registry(tmp_path: Path) -> None:
    result = run_pipeline(validate_config(TINY), tmp_path / "run")
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert [s["stage"] for s in manifest["stages"]] == [s["stage"] for s in result.stages]
    assert R.STAGES == R.stage_names() == tuple(s.name for s in R.REGISTRY)

    def of(scope: str) -> list[str]:
        return [s.name for s in R.REGISTRY if s.scope == scope]

    shared = [s["stage"] for s in manifest["stages"] if s["variant"] is None]
    assert shared == of("shared") + of("final")  # once each, the report last
    assert manifest["stages"][-1]["stage"] == "report"
    per_arm = [s["stage"] for s in manifest["stages"] if s["variant"] == "both"]
    assert per_arm == of("arm")  # in registry order: every arm stage applies to this arm
    control = [s["stage"] for s in manifest["stages"] if s["variant"] == "control"]
    assert control == ["train", "evaluate"]  # generate / expand / fuse do not apply to the control
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert list(results["arms"]["both"]["0"]["stages"]) == of("shared") + of("arm")
    assert "search" not in results  # the search stages apply only with a search section


@pytest.mark.usefixtures("restore_recaug_logger")
def test_cli_only_choices_are_the_registry_names(tmp_path: Path) -> None:
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY), encoding="utf-8")
    bad = invoke("run", config, "--out", tmp_path / "run", "--only", "trian")
    assert bad.exit_code == 2
    assert f"unknown stage(s) ['trian']; stages are {list(R.STAGES)}" in " ".join(bad.stderr.split())


def _count_key(ctx: R.Context) -> R.Key:
    return {"what": "users"}, {"evaluate": ctx.done["evaluate"]}


def _count_run(ctx: R.Context, out: Path, checkpoint: Path | None) -> dict[str, Any]:
    summary = json.loads((ctx.done["evaluate"].path / "test" / "summary.json").read_text())
    write_json(out / "count.json", {"users": summary["n_users"]})
    return {"rows_in": summary["n_users"], "rows_out": 1}


def test_a_new_stage_is_one_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stage added to the registry runs per arm, is cached, and ``--only`` accepts it."""
    count = R.Stage("count", "evaluate", "arm", _count_run, key=_count_key)
    at = R.index("evaluate") + 1
    monkeypatch.setattr(R, "REGISTRY", (*R.REGISTRY[:at], count, *R.REGISTRY[at:]))
    config = validate_config({**TINY, "variants": {"control": {}}})
    result = run_pipeline(config, tmp_path / "run", only=["count"])
    assert [s["stage"] for s in result.stages] == ["data", "preprocess", "split", "train", "evaluate", "count"]
    stages = result.arms["control"]["0"]["stages"]
    assert json.loads((tmp_path / "run" / stages["count"] / "count.json").read_text())["users"] > 0
    again = run_pipeline(config, tmp_path / "run", resume=True)
    assert {s["stage"]: s["status"] for s in again.stages}["count"] == "cached"
    assert [s["stage"] for s in again.stages][-2:] == ["count", "report"]
