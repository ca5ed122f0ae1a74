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


# -- issue 35, B.7: headline first, colour only significant lifts, epochs and "still rising" ---------
def _doc(rows: list[dict[str, Any]], training: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A collected report (as ``collect`` returns it) with the given headline rows."""
    return {
        "title": "t", "target": "test", "seeds": [0, 1], "device": "cpu", "run_dir": "r", "versions": {},
        "primary_metric": "NDCG@10", "control": "control", "variants": {"control": "", "a": "", "b": ""},
        "protocol": {"split": "leave_last_out"}, "data": {}, "confidence": 0.95, "alpha": 0.05,
        "headline": {"segments": ["all"], "rows": rows}, "quality": {}, "costs": [], "amounts": [],
        "curves": {}, "tune": None, "training": training or [],
    }  # fmt: skip


def _row(variant: str, lift: float | None, significant: bool | None, seed_p: float | None = None) -> dict[str, Any]:
    row: dict[str, Any] = {"segment": "all", "variant": variant, "metric": "NDCG@10", "n_users": 50, "mean": 0.05,
                           "ci_low": 0.04, "ci_high": 0.06, "is_control": lift is None}  # fmt: skip
    if lift is not None:
        row.update(lift=lift, t_pvalue=0.01, wilcoxon_pvalue=0.01, significant=significant, n_seeds=2,
                   seed_pvalue=seed_p)  # fmt: skip
    return row


def test_headline_comes_before_the_protocol(run_dir: Path) -> None:
    md = (run_dir / "report.md").read_text()
    html = (run_dir / "report.html").read_text()
    assert md.index("## Headline") < md.index("## Protocol")
    assert html.index("<h2>Headline") < html.index("<h2>Protocol")
    assert md.splitlines()[0].startswith("# Tiny") and md.index("## Headline") < 200  # nothing long before it


def test_lift_is_coloured_only_when_significant() -> None:
    from recaug.report.render import render_html, render_markdown

    doc = _doc([_row("control", None, None), _row("a", 0.123, True, 0.01), _row("b", 0.089, False, 0.3),
                _row("c", -0.045, True, 0.02), _row("d", -0.067, False, 0.4)])  # fmt: skip
    html = render_html(doc, {"distributions": {}})
    assert '<td class="up">+12.3%</td>' in html and '<td class="">+8.9%</td>' in html
    assert '<td class="down">-4.5%</td>' in html and '<td class="">-6.7%</td>' in html
    md = render_markdown(doc)
    assert "| **+12.3%** |" in md and "| +8.9% |" in md and "| **-4.5%** |" in md and "| -6.7% |" in md
    assert "p (seeds)" in md and "p (seeds)" in html  # two seeds: the seed-level p is shown
    assert "| 0.300 |" in md


def test_significance_needs_both_tests_with_several_seeds() -> None:
    import numpy as np

    from recaug.evaluate.stats import paired_stats
    from recaug.report.collect import significance

    rng = np.random.default_rng(0)
    a = rng.random(300)
    cmp = paired_stats(a, a * 1.04 + 0.001, "NDCG@10")  # per-user: p far below 0.05
    assert cmp.wilcoxon_pvalue < 1e-6
    consistent = significance(cmp, [0.100, 0.050, 0.080], [0.104, 0.052, 0.083], 0.05)  # +4%, +4%, +3.75%
    assert consistent["significant"] and consistent["n_seeds"] == 3 and consistent["seed_pvalue"] < 0.01
    noisy = significance(cmp, [0.100, 0.050, 0.080], [0.105, 0.0513, 0.08152], 0.05)  # +5%, +2.6%, +1.9%
    assert not noisy["significant"] and noisy["seed_pvalue"] == pytest.approx(0.0777568, abs=1e-6)
    assert "seed-level" in noisy["significance"]
    one = significance(cmp, [0.1], [0.104], 0.05)  # one seed: the per-user test decides
    assert one["significant"] and one["n_seeds"] == 1 and "seed_pvalue" not in one
    flat = paired_stats(a, a + rng.normal(0, 0.01, len(a)), "NDCG@10")
    assert not significance(flat, [0.100, 0.050, 0.080], [0.104, 0.052, 0.083], 0.05)["significant"]


def test_report_rows_carry_the_seed_level_test(run_dir: Path) -> None:
    doc = json.loads((run_dir / "report.json").read_text())
    rows = [r for r in doc["headline"]["rows"] if not r["is_control"]]
    assert rows and all(isinstance(r["significant"], bool) and r["n_seeds"] == 2 for r in rows)
    assert all("seed_pvalue" in r for r in rows) and doc["alpha"] == 0.05
    html = (run_dir / "report.html").read_text()
    for r in rows:
        if r["segment"] == "all" and r["metric"] == doc["primary_metric"] and not r["significant"]:
            assert f'<td class="">{pct(r["lift"])}</td>' in html


def _fake_train(root: Path, name: str, metrics: list[float | None], best: int | None, cap: int) -> str:
    folder = root / "stages" / "train" / name
    (folder / "model").mkdir(parents=True)
    history = [{"epoch": i + 1, "loss": 1.0, "metric": m} for i, m in enumerate(metrics)]
    (folder / "history.json").write_text(json.dumps({"model": "sasrec", "history": history, "best_epoch": best}))
    (folder / "model" / "config.json").write_text(json.dumps({"model": "sasrec", "config": {"epochs": cap}}))
    return str(folder.relative_to(root))


def test_training_flags_models_still_rising_at_the_epoch_cap(tmp_path: Path) -> None:
    from recaug.report.collect import training
    from recaug.report.render import render_markdown

    rising = _fake_train(tmp_path, "a", [0.01, 0.02, 0.03, 0.04, 0.05], 5, cap=5)  # best = last, at the cap
    peaked = _fake_train(tmp_path, "b", [0.01, 0.05, 0.04, 0.03, 0.03], 2, cap=5)  # at the cap, best long ago
    stopped = _fake_train(tmp_path, "c", [0.01, 0.03, 0.02], 2, cap=10)  # early-stopped before the cap
    sparse = _fake_train(tmp_path, "d", [None, 0.01, None, 0.02, None, 0.03], 6, cap=6)  # every 2nd epoch: 4 = 2nd last
    results = {"arms": {"control": {"0": {"stages": {"train": rising}}, "1": {"stages": {"train": peaked}}},
                        "x": {"0": {"stages": {"train": stopped}}, "1": {"stages": {"train": sparse}}},
                        "pop": {"0": {"stages": {}}}}}  # fmt: skip
    rows = {(t["variant"], t["seed"]): t for t in training(tmp_path, results)}
    assert set(rows) == {("control", "0"), ("control", "1"), ("x", "0"), ("x", "1")}  # no epochs: no row
    a, b, c, d = rows["control", "0"], rows["control", "1"], rows["x", "0"], rows["x", "1"]
    assert (a["epochs_run"], a["epoch_cap"], a["best_epoch"], a["still_rising"]) == (5, 5, 5, True)
    assert a["best_value"] == 0.05 and a["validations"] == 5
    assert (b["at_cap"], b["still_rising"]) == (True, False)
    assert (c["epochs_run"], c["at_cap"], c["still_rising"]) == (3, False, False)
    d_sparse = _fake_train(tmp_path, "e", [None, 0.03, None, 0.02, None, 0.01, None, 0.01], 2, cap=8)
    assert d["still_rising"] and d["validations"] == 3
    old = training(tmp_path, {"arms": {"y": {"0": {"stages": {"train": d_sparse}}}}})[0]
    assert old["at_cap"] and not old["still_rising"]  # best was 4 validations ago
    md = render_markdown(_doc([_row("control", None, None)], list(rows.values())))
    assert "## Training" in md and "| control | 0 | sasrec | 5 / 5 | 5 | 0.0500 | still rising at the epoch cap |" in md
    assert "| x | 0 | sasrec | 3 / 10 | 2 | 0.0300 |  |" in md
    assert "| control | 1 | sasrec | 5 / 5 | 2 | 0.0500 | stopped at the epoch cap |" in md
    assert md.count("**Still rising:**") == 2 and md.index("**Still rising:**") < md.index("## Protocol")


def test_report_shows_epochs_and_flags_a_capped_model(tmp_path: Path) -> None:
    params = {"max_len": 10, "hidden": 8, "n_layers": 1, "n_heads": 1, "epochs": 2, "batch_size": 64, "threads": 1}
    doc = tiny(seeds=[0], variants={"control": {}}, train={"model": "sasrec", "params": params})
    run_pipeline(validate_config(doc), tmp_path / "sas")
    report = json.loads((tmp_path / "sas" / "report.json").read_text())
    [t] = report["training"]
    assert (t["variant"], t["epochs_run"], t["epoch_cap"]) == ("control", 2, 2)
    assert t["best_epoch"] in (1, 2) and t["still_rising"]  # 2 epochs of 2: both are among the last validations
    md = (tmp_path / "sas" / "report.md").read_text()
    html = (tmp_path / "sas" / "report.html").read_text()
    assert f"| control | 0 | sasrec | 2 / 2 | {t['best_epoch']} |" in md and "still rising at the epoch cap" in md
    assert "<h2>Training</h2>" in html and "Still rising:" in html
