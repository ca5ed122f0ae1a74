"""The report: self-contained HTML, Markdown and JSON with the same numbers; tuning shows up in it."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from recaug.errors import ConfigError, DataError
from recaug.pipeline import run_pipeline, tune, validate_config
from recaug.report import write_report
from recaug.report.render import fmt, pct


def tiny(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": "report-test",
        "data": {"source": "simulate", "simulate": {"n_users": 120, "n_items": 60, "seed": 5}},
        "preprocess": {"steps": [{"step": "kcore", "user_k": 3, "item_k": 2}, {"step": "remap"}]},
        "train": {"model": "pop"},
        "evaluate": {"ks": [5, 10], "bootstrap": 50},
        "seeds": [0, 1],
        "variants": {
            "control": {},
            "crop_1": {"expand": {"policy": {"op": "crop", "eta": 0.6}, "n_views": 1}},
            "crop_3": {"expand": {"policy": {"op": "crop", "eta": 0.6}, "n_views": 3}},
        },
        "report": {"title": "Tiny <shop> report"},
    }
    doc.update(overrides)
    return doc


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rep") / "run"
    run_pipeline(validate_config(tiny()), out)
    return out


def test_html_is_self_contained(run_dir: Path) -> None:
    html = (run_dir / "report.html").read_text()
    assert "Tiny &lt;shop&gt; report" in html  # escaped
    assert not re.search(r"(src|href)=\"https?:", html) and "<script" not in html
    images = re.findall(r'src="data:image/png;base64,', html)
    assert len(images) >= 3  # lift bars, amount curve, real vs synthetic (+ more)
    for section in ("Protocol", "Headline", "Cost", "Real vs synthetic", "Metric vs amount"):
        assert section in html
    assert "built-in method" not in html and "object at 0x" not in html  # no Python reprs leak into the page


def test_same_numbers_in_html_md_json(run_dir: Path) -> None:
    doc = json.loads((run_dir / "report.json").read_text())
    md = (run_dir / "report.md").read_text()
    html = (run_dir / "report.html").read_text()
    assert doc["target"] == "test" and doc["control"] == "control" and doc["seeds"] == [0, 1]
    rows = doc["headline"]["rows"]
    assert {r["segment"] for r in rows} >= {"all", "new_users"}
    row = next(
        r for r in rows if r["segment"] == "all" and r["variant"] == "crop_3" and r["metric"] == "NDCG@10"
    )
    assert row["ci_low"] <= row["mean"] <= row["ci_high"] and row["t_pvalue"] is not None
    assert "seeds_t_pvalue" in row
    for text in (md, html):
        assert fmt(row["mean"]) in text and pct(row["lift"]) in text
    shares = sorted(a["synthetic_share"] for a in doc["amounts"])
    assert shares[0] == 0 and shares[-1] > shares[1] > 0
    costs = {c["variant"]: c for c in doc["costs"]}
    assert (
        costs["control"]["rows_added"] == 0 and costs["crop_3"]["rows_added"] > costs["crop_1"]["rows_added"]
    )
    assert "crop_1" in doc["quality"]


def test_write_report_again_and_bad_dir(run_dir: Path, tmp_path: Path) -> None:
    assert write_report(run_dir) == run_dir / "report.html"
    with pytest.raises(DataError):
        write_report(tmp_path)


def test_tune_searches_on_valid_and_reports(tmp_path: Path) -> None:
    doc = tiny(seeds=[0], variants={}, tune={"ops": ["crop", "mask"], "n_views": [1, 2], "seed": 0})
    result = tune(validate_config(doc), 3, tmp_path / "tuned")
    out = tmp_path / "tuned"
    study = json.loads((out / "tune" / "study.json").read_text())
    assert study["n_trials"] == 3 and len(study["trials"]) == 3 and study["target"] == "valid"
    assert (out / "tune" / "trials.csv").read_text().startswith("trial,value,params")
    assert "variants" in (out / "tune" / "best_policy.yaml").read_text()
    assert study["best_value"] == max(t["value"] for t in study["trials"])
    assert study["best_test"] is not None
    # trials were evaluated on validation only
    manifest = json.loads((out / "manifest.json").read_text())
    assert result.run.arms.keys() == {"control", "tuned"}
    html = (out / "report.html").read_text()
    assert "Augmentation policy search" in html and "validation" in html
    assert manifest["invocations"][0]["status"] == "ok"
    trial_evals = list((out / "stages" / "evaluate").glob("*/test"))
    assert 1 <= len(trial_evals) <= 2  # only the final control and tuned arms looked at test


def test_tune_without_optuna(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "optuna", None)
    with pytest.raises(ConfigError, match="recaug\\[tune\\]"):
        tune(validate_config(tiny()), 1, tmp_path / "x")
