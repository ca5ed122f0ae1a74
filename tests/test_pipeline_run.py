"""End-to-end pipeline on a tiny simulated shop: run directory, resume, partial re-runs, crashes, tampering."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from recaug.errors import ConfigError, OutputExistsError
from recaug.pipeline import StageError, run_pipeline, validate_config
from recaug.pipeline import stages as S


def tiny(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": "tiny",
        "data": {"source": "simulate", "simulate": {"n_users": 120, "n_items": 60, "seed": 3}},
        "preprocess": {
            "steps": [
                {"step": "dedup", "mode": "consecutive"},
                {"step": "kcore", "user_k": 3, "item_k": 2},
                {"step": "remap"},
            ]
        },
        "train": {"model": "pop"},
        "evaluate": {"ks": [5, 10], "bootstrap": 50},
        "fuse": {"quality": False},
        "seeds": [0],
        "variants": {"control": {}, "crop": {"expand": {"policy": {"op": "crop", "eta": 0.6}, "n_views": 1}}},
    }
    doc.update(overrides)
    return doc


def statuses(result: Any) -> dict[str, str]:
    return {f"{s['stage']}[{s['variant']}/{s['seed']}]": s["status"] for s in result.stages}


def per_user(run_dir: Path, arm: dict[str, Any], target: str = "test") -> pl.DataFrame:
    return pl.read_parquet(run_dir / arm["stages"]["evaluate"] / target / "per_user.parquet")


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    run_dir = tmp_path_factory.mktemp("runs") / "tiny"
    return run_dir, run_pipeline(validate_config(tiny()), run_dir)


def test_run_directory_layout(first_run: tuple[Path, Any]) -> None:
    run_dir, result = first_run
    for name in (
        "config.resolved.yaml",
        "manifest.json",
        "protocol.json",
        "logs.jsonl",
        "results.json",
        "report.html",
        "report.md",
        "report.json",
    ):
        assert (run_dir / name).is_file(), name
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["seeds"] == [0] and manifest["device"]
    assert {"recaug", "python", "polars"} <= set(manifest["versions"])
    ran = {s["stage"] for s in manifest["stages"] if s["status"] == "ran"}
    assert ran == {"data", "preprocess", "split", "expand", "fuse", "train", "evaluate", "report"}
    train = next(s for s in manifest["stages"] if s["stage"] == "train")
    assert train["rows_in"] > 0 and train["seconds"] >= 0 and "split" in train["inputs"]
    protocol = json.loads((run_dir / "protocol.json").read_text())
    assert protocol["split"] == "leave_last_out" and protocol["candidates"] == "all_items"
    # one log line per stage with rows and seconds
    lines = [json.loads(x) for x in (run_dir / "logs.jsonl").read_text().splitlines()]
    stage_lines = [x for x in lines if x["logger"] == "recaug.pipeline" and "stage" in x]
    assert {x["stage"] for x in stage_lines} >= {"data", "preprocess", "split", "train", "evaluate"}
    assert all("rows_in" in x and "seconds" in x for x in stage_lines)
    # results: control has no synthetic rows, the crop arm does, and both were evaluated on test
    assert result.arms["control"]["0"]["rows_added"] == 0
    assert result.arms["crop"]["0"]["rows_added"] > 0
    assert set(result.summary()["crop"][0]) >= {"NDCG@10", "HR@5"}
    train_rows = pl.read_parquet(run_dir / result.arms["crop"]["0"]["stages"]["fuse"] / "train.parquet")
    assert set(train_rows["source"].unique()) == {"real", "crop"}
    assert (run_dir / result.arms["control"]["0"]["stages"]["train"] / "model" / "config.json").is_file()


def test_resume_reuses_every_stage(first_run: tuple[Path, Any]) -> None:
    run_dir, _ = first_run
    again = run_pipeline(validate_config(tiny()), run_dir, resume=True)
    assert again.ran == [], again.ran
    assert set(statuses(again).values()) == {"cached"}


def test_existing_run_refused(first_run: tuple[Path, Any], tmp_path: Path) -> None:
    run_dir, _ = first_run
    with pytest.raises(OutputExistsError, match="another run"):
        run_pipeline(validate_config(tiny()), run_dir)
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(OutputExistsError):
        run_pipeline(validate_config(tiny()), other, resume=True)
    assert (other / "notes.txt").read_text() == "mine"


def test_editing_train_reruns_only_train_evaluate_report(first_run: tuple[Path, Any], tmp_path: Path) -> None:
    src, _ = first_run
    run_dir = tmp_path / "copy"
    shutil.copytree(src, run_dir)
    edited = tiny(train={"model": "itemknn"})
    result = run_pipeline(validate_config(edited), run_dir, resume=True)
    ran = {s["stage"] for s in result.stages if s["status"] != "cached"}
    cached = {s["stage"] for s in result.stages if s["status"] == "cached"}
    assert ran == {"train", "evaluate", "report"}
    assert cached == {"data", "preprocess", "split", "expand", "fuse"}


def test_crash_then_resume_gives_identical_results(
    first_run: tuple[Path, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clean_dir, clean = first_run
    run_dir = tmp_path / "crashy"
    real_train = S.run_train

    def boom(cfg: Any, train_file: Path, *args: Any, **kwargs: Any) -> dict[str, Any]:
        if "fuse" in str(train_file):  # the augmented arm: after data..fuse finished
            raise RuntimeError("simulated crash")
        return real_train(cfg, train_file, *args, **kwargs)

    monkeypatch.setattr(S, "run_train", boom)
    with pytest.raises(StageError) as info:
        run_pipeline(validate_config(tiny()), run_dir)
    assert info.value.stage == "train" and "stage train" in str(info.value) and "crop" in str(info.value)
    assert not list((run_dir / "stages").glob("*/.tmp-*")), "failed stage left no half-written output"
    monkeypatch.setattr(S, "run_train", real_train)
    resumed = run_pipeline(validate_config(tiny()), run_dir, resume=True)
    st = statuses(resumed)
    assert st["data[None/None]"] == "cached" and st["fuse[crop/0]"] == "cached"
    assert st["train[crop/0]"] == "ran"
    for variant in ("control", "crop"):
        assert per_user(run_dir, resumed.arms[variant]["0"]).equals(
            per_user(clean_dir, clean.arms[variant]["0"])
        )


def test_half_written_stage_is_ignored(first_run: tuple[Path, Any], tmp_path: Path) -> None:
    """A kill -9 mid-stage leaves a temporary folder (no marker): resume removes it and re-runs."""
    src, clean = first_run
    run_dir = tmp_path / "killed"
    shutil.copytree(src, run_dir)
    evaluate = run_dir / clean.arms["crop"]["0"]["stages"]["evaluate"]
    shutil.move(evaluate, evaluate.parent / f".tmp-{evaluate.name}-999")
    (evaluate.parent / f".tmp-{evaluate.name}-999" / "_DONE.json").unlink()
    result = run_pipeline(validate_config(tiny()), run_dir, resume=True)
    assert statuses(result)["evaluate[crop/0]"] == "ran"
    assert not list((run_dir / "stages").glob("*/.tmp-*"))
    assert per_user(run_dir, result.arms["crop"]["0"]).equals(per_user(src, clean.arms["crop"]["0"]))


def test_tampered_cache_is_detected_and_rerun(first_run: tuple[Path, Any], tmp_path: Path) -> None:
    src, clean = first_run
    run_dir = tmp_path / "tampered"
    shutil.copytree(src, run_dir)
    split_dir = run_dir / clean.arms["control"]["0"]["stages"]["split"]
    test = pl.read_parquet(split_dir / "test.parquet")
    test.head(len(test) - 1).write_parquet(split_dir / "test.parquet")
    result = run_pipeline(validate_config(tiny()), run_dir, resume=True)
    st = statuses(result)
    assert st["split[None/None]"] == "reran_tampered"
    assert pl.read_parquet(split_dir / "test.parquet").equals(test)  # restored by the re-run
    logs = (run_dir / "logs.jsonl").read_text()
    assert "tampered" in logs


def test_force_replaces_and_only_stops_early(tmp_path: Path) -> None:
    run_dir = tmp_path / "r"
    result = run_pipeline(validate_config(tiny()), run_dir, only=["split"])
    assert {s["stage"] for s in result.stages} == {"data", "preprocess", "split"}
    assert not (run_dir / "report.html").exists()
    result = run_pipeline(validate_config(tiny()), run_dir, force=True, only=["split"])
    assert {s["status"] for s in result.stages} == {"ran"}


def test_sasrec_tiny_with_curves(tmp_path: Path) -> None:
    doc = tiny(
        train={
            "model": "sasrec",
            "params": {
                "max_len": 10,
                "hidden": 8,
                "n_layers": 1,
                "n_heads": 1,
                "epochs": 2,
                "batch_size": 64,
                "threads": 1,
            },
        }
    )
    doc["fuse"] = {"quality": True}
    result = run_pipeline(validate_config(doc), tmp_path / "sas")
    history = json.loads(
        (tmp_path / "sas" / result.arms["crop"]["0"]["stages"]["train"] / "history.json").read_text()
    )
    assert len(history["history"]) == 2
    report = json.loads((tmp_path / "sas" / "report.json").read_text())
    assert set(report["curves"]) == {"control", "crop"}
    assert "crop" in report["quality"] and report["quality"]["crop"]["plot"]["lengths"]["real"]


SASREC_TINY = {"max_len": 10, "hidden": 8, "n_layers": 1, "n_heads": 1, "epochs": 4, "batch_size": 64, "threads": 1}
VAE_TINY = {"epochs": 4, "hidden_dims": [16], "latent_dim": 4, "batch_size": 16}
KILLED = {
    "train": ({"train": {"model": "sasrec", "params": SASREC_TINY}, "variants": {"control": {}}}, "control", None,
              ("history.json", "model/config.json")),
    "generate": ({"variants": {"control": {}, "gen": {"generate": {"method": "vae", "params": VAE_TINY,
                                                                    "sample": {"n_users": 8}}}}},
                 "gen", ["generate"], ("synthetic.parquet",)),
}  # fmt: skip


@pytest.mark.parametrize("stage", list(KILLED))
def test_killed_fit_resumes_from_its_last_epoch(stage: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run killed mid-fit (a model or a synthesizer) continues that fit on ``resume``."""
    from recaug.models import training

    overrides, variant, only, files = KILLED[stage]
    config = validate_config(tiny(**overrides))
    clean = run_pipeline(config, tmp_path / "clean", only=only)
    report = training._Reporter.epoch

    def killed_in_epoch_3(self: Any, record: dict[str, Any], metric: str) -> None:
        if record["epoch"] == 3:
            raise KeyboardInterrupt
        report(self, record, metric)

    run_dir = tmp_path / "killed"
    with monkeypatch.context() as patch:
        patch.setattr(training._Reporter, "epoch", killed_in_epoch_3)
        with pytest.raises(KeyboardInterrupt):
            run_pipeline(config, run_dir, only=only)
    assert len(list((run_dir / "stages" / stage).glob(".checkpoint-*"))) == 1
    trained: list[int] = []
    with monkeypatch.context() as patch:
        patch.setattr(training._Reporter, "epoch", lambda self, record, metric: trained.append(record["epoch"]))
        resumed = run_pipeline(config, run_dir, resume=True, only=only)
    assert trained == [3, 4]  # continued after the saved epoch 2, not started over
    # the finished fit removed it; a model's keeps its final state, so a raised epoch cap continues it
    assert len(list((run_dir / "stages" / stage).glob(".checkpoint-*"))) == (stage == "train")

    def output(result: Any, root: Path, name: str) -> Path:
        entry = next(s for s in result.stages if s["stage"] == stage and s["variant"] == variant)
        return root / entry["dir"] / name

    for name in files:
        assert output(resumed, run_dir, name).read_bytes() == output(clean, tmp_path / "clean", name).read_bytes()
    if stage == "train":
        arm, clean_arm = resumed.arms["control"]["0"], clean.arms["control"]["0"]
        assert per_user(run_dir, arm).equals(per_user(tmp_path / "clean", clean_arm))


def test_failing_stage_is_named_and_earlier_stages_stay_cached(tmp_path: Path) -> None:
    doc = tiny(variants={"control": {}, "gen": {"generate": {"method": "no_such_synthesizer"}}})
    run_dir = tmp_path / "gen"
    with pytest.raises(StageError) as info:
        run_pipeline(validate_config(doc), run_dir)
    assert info.value.stage == "generate" and info.value.variant == "gen"
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["invocations"][-1]["status"] == "failed"
    again = run_pipeline(validate_config(tiny()), run_dir, resume=True)
    st = statuses(again)
    assert st["split[None/None]"] == "cached" and st["train[control/0]"] == "cached"


def test_generate_stage_knows_the_catalogue_and_its_categories(tmp_path: Path) -> None:
    """The synthesizer is fitted with the dataset's item space and categories: a condition works."""
    gen = {"generate": {"method": "vae", "params": {"epochs": 1, "hidden_dims": [16], "latent_dim": 4},
                        "sample": {"n_users": 8, "condition": {"category": "phones"}}}}  # fmt: skip
    run_dir = tmp_path / "run"
    result = run_pipeline(validate_config(tiny(variants={"control": {}, "gen": gen})), run_dir, only=["generate"])
    stage = next(s for s in result.stages if s["stage"] == "generate")
    synthetic = pl.read_parquet(run_dir / stage["dir"] / "synthetic.parquet")
    data = next(s for s in result.stages if s["stage"] == "preprocess")
    items = pl.read_parquet(run_dir / data["dir"] / "dataset" / "items.parquet")
    cats = synthetic.join(items, on="item_id", how="left").get_column("category").unique().to_list()
    assert synthetic.height > 0 and cats == ["phones"]


def test_fused_test_input_reads_completions_and_masks_only_real_history(tmp_path: Path) -> None:
    """``evaluate.test_input: fused``: same model, other input; the ranking still masks only real items."""
    gen = {"generate": {"method": "vae", "params": {"epochs": 2, "hidden_dims": [16], "latent_dim": 4},
                        "mode": "complete", "complete_k": 3, "complete_max_history": 4},
           "fuse": {"held_out_hits": "drop", "only_users_with_at_most": 4}}  # fmt: skip
    runs = {}
    for test_input in ("real", "fused"):
        doc = tiny(train={"model": "itemknn"}, variants={"control": {}, "gen": gen},
                   evaluate={"ks": [5, 10], "bootstrap": 50, "test_input": test_input})  # fmt: skip
        run_dir = tmp_path / test_input
        runs[test_input] = (run_dir, run_pipeline(validate_config(doc), run_dir))
    (real_dir, real), (fused_dir, fused) = runs["real"], runs["fused"]
    for arm in ("control", "gen"):  # the model was trained once per arm, identically
        assert real.arms[arm]["0"]["stages"]["train"] == fused.arms[arm]["0"]["stages"]["train"]
    control_real, control_fused = per_user(real_dir, real.arms["control"]["0"]), per_user(fused_dir, fused.arms["control"]["0"])
    assert control_real.equals(control_fused)  # the control has no fused rows: nothing changes
    gen_real, gen_fused = per_user(real_dir, real.arms["gen"]["0"]), per_user(fused_dir, fused.arms["gen"]["0"])
    assert gen_real.get_column("n_history").equals(gen_fused.get_column("n_history"))  # real history masked
    assert not gen_real.get_column("rank").equals(gen_fused.get_column("rank"))  # ItemKNN read the completions
    summary = json.loads((fused_dir / fused.arms["gen"]["0"]["stages"]["evaluate"] / "test" / "summary.json").read_text())
    assert summary["protocol"]["test_input"].startswith("fused")
    # held_out_hits: drop is a diagnostic: its keep twin ran the same way, the report labels the drop row
    assert list(real.arms) == ["control", "gen", "gen+keep"]
    twin, drop = real.arms["gen+keep"]["0"], real.arms["gen"]["0"]
    assert twin["stages"]["generate"] == drop["stages"]["generate"] and twin["stages"]["fuse"] != drop["stages"]["fuse"]
    assert twin["held_out_hits_dropped"] == 0 and drop["held_out_hits_kept"] == 0
    assert twin["rows_added"] == drop["rows_added"] + drop["held_out_hits_dropped"]
    report = (real_dir / "report.md").read_text()
    assert "gen (diagnostic: held-out labels)" in report and "| gen+keep |" in report
    assert "held-out labels" in json.loads((real_dir / "results.json").read_text())["variants"]["gen"]


def test_fused_test_input_refuses_expand_arms() -> None:
    with pytest.raises(ConfigError, match="test_input"):
        validate_config(tiny(evaluate={"test_input": "fused"}))


def test_a_killed_run_says_so_in_its_manifest(tmp_path, monkeypatch):
    """Ctrl-C / SIGTERM (turned into KeyboardInterrupt by the CLI) and a hard kill are recorded (B.8)."""
    from recaug.pipeline.rundir import Manifest

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt("signal 15")

    monkeypatch.setattr(S, "run_train", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_pipeline(validate_config(tiny()), tmp_path / "run")
    doc = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert doc["invocations"][-1]["status"] == "killed"
    assert doc["stages"][-1]["status"] == "killed" and doc["stages"][-1]["stage"] == "train"
    # a process killed hard (SIGKILL) leaves "running"; the next invocation calls it killed
    manifest = Manifest(tmp_path / "m.json")
    manifest.start(config_hash="x", seeds=[0], device="cpu", resume=False, only=None)
    again = Manifest(tmp_path / "m.json")
    again.start(config_hash="x", seeds=[0], device="cpu", resume=True, only=None)
    assert [i["status"] for i in again.doc["invocations"]] == ["killed", "running"]


def test_training_lines_name_arm_seed_and_epoch_cap(tmp_path, caplog):
    small = {"model": "sasrec", "params": {"epochs": 1, "hidden": 8, "n_heads": 1, "n_layers": 1, "max_len": 8,
                                             "progress": False}}  # fmt: skip
    with caplog.at_level("INFO", logger="recaug.models.training"):
        run_pipeline(validate_config(tiny(train=small, variants={"control": {}})), tmp_path / "run")
    assert "[control seed 0] SASRec epoch 1/1: loss" in caplog.text


def test_each_run_seed_trains_its_own_synthesizer_and_every_evaluation_splits_repeats(tmp_path, monkeypatch):
    import recaug.generate as G
    from recaug.evaluate import RepeatTargets
    from recaug.pipeline.config import EvaluateConfig

    seen: list[int] = []
    real = G.from_config

    def spy(settings: dict[str, Any]) -> Any:
        seen.append(settings["seed"])
        return real(settings)

    monkeypatch.setattr(G, "from_config", spy)
    arm = {"generate": {"method": "vae", "params": {"epochs": 1}, "mode": "complete"}}
    run_pipeline(validate_config(tiny(seeds=[0, 1], variants={"control": {}, "vae": arm})), tmp_path / "run")
    assert sorted(seen) == [0, 1]
    rules = S.segment_rules(EvaluateConfig(), S.load_dataset(next((tmp_path / "run" / "stages" / "data").iterdir())))
    assert any(isinstance(rule, RepeatTargets) for rule in rules)
