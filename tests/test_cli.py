"""The ``recaug`` command line: every command, exit codes, JSON output, demo files."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cli_helpers import invoke
from recaug.atomic import write_marker
from recaug.data import Dataset

pytestmark = pytest.mark.usefixtures("restore_recaug_logger")


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    """Six users, a handful of items, with events."""
    rows = ["user,item,timestamp,event"]
    for u in range(6):
        for k in range(4 + u % 3):
            rows.append(f"u{u},i{(u + k) % 7},{1_700_000_000 + 60 * k},{'view' if k % 2 else 'buy'}")
    path = tmp_path / "log.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


# -- global behaviour ---------------------------------------------------------------------
def test_help_and_version() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    for command in ("data", "train", "evaluate", "expand", "generate", "fuse", "quality", "run", "report",
                    "config", "tune", "demo", "doctor"):  # fmt: skip
        assert command in result.stdout
    result = invoke("--version")
    assert result.exit_code == 0 and "recaug" in result.stdout


def test_unknown_option_and_command_are_usage_errors() -> None:
    assert invoke("doctor", "--no-such-option").exit_code == 2
    assert invoke("no-such-command").exit_code == 2
    assert invoke("demo").exit_code == 2  # --out is required


def test_console_script_entry_point_exit_codes() -> None:
    ok = subprocess.run([sys.executable, "-m", "recaug.cli", "--version"], capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stdout.startswith("recaug ")
    bad = subprocess.run(
        [sys.executable, "-m", "recaug.cli", "data", "--bogus"], capture_output=True, text=True
    )
    assert bad.returncode == 2


@pytest.mark.parametrize("preset", [None, "0"])
def test_cli_turns_on_huge_pages_before_torch_and_keeps_a_users_choice(preset: str | None) -> None:
    code = ("import os, sys; import recaug.cli; "
            "print('torch' in sys.modules, os.environ['THP_MEM_ALLOC_ENABLE'])")  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "THP_MEM_ALLOC_ENABLE"}
    if preset is not None:
        env["THP_MEM_ALLOC_ENABLE"] = preset
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", preset or "1"]


# -- doctor ---------------------------------------------------------------------------------
def test_doctor_table_and_json() -> None:
    result = invoke("doctor")
    assert result.exit_code == 0
    for word in ("python", "numpy", "polars", "pyarrow", "torch", "optuna", "pyspark"):
        assert word in result.stdout
    result = invoke("doctor", "--json")
    assert result.exit_code == 0
    info = json.loads(result.stdout)
    assert {"python", "versions", "torch", "threads", "extras"} <= set(info)
    assert info["versions"]["recaug"]
    assert isinstance(info["torch"].get("cuda_available", False), bool)


# -- data describe -------------------------------------------------------------------------
def test_describe_saved_dataset(tmp_path: Path) -> None:
    from recaug.data.demo import simulate_shop

    folder = simulate_shop(n_users=200, n_items=100, seed=1).save(tmp_path / "shop")
    result = invoke("data", "describe", folder, "--json")
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)  # stdout holds nothing but JSON
    assert stats["users"] == 200
    assert set(stats["events"]) == {"view", "cart", "buy"}
    assert stats["categories"]["n"] == 12
    table = invoke("data", "describe", folder)
    assert table.exit_code == 0
    assert "interactions" in table.stdout and "view" in table.stdout


def test_missing_input_is_a_runtime_error_naming_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    result = invoke("data", "describe", missing)
    assert result.exit_code == 3
    assert str(missing) in result.stderr
    assert "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1


def test_verbose_shows_traceback(tmp_path: Path) -> None:
    result = invoke("-v", "data", "describe", tmp_path / "nope.csv")
    assert result.exit_code == 3
    assert "Traceback" in result.stderr


def test_broken_dataset_folder_is_a_runtime_error(tmp_path: Path) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "schema.json").write_text("{not json", encoding="utf-8")
    result = invoke("data", "describe", folder)
    assert result.exit_code == 3
    assert "schema.json" in result.stderr


# -- data import (needs recaug.data.io) ---------------------------------------------------
def test_import_then_describe(csv_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "imported"
    result = invoke("data", "import", csv_file, "--format", "csv", "-o", out,
                    "--user-col", "user", "--item-col", "item")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (out / "schema.json").is_file() and (out / "interactions.parquet").is_file()
    dataset = Dataset.load(out)
    assert dataset.vocab.n_users == 6
    assert len(dataset.interactions) == sum(4 + u % 3 for u in range(6))
    stats = json.loads(invoke("data", "describe", out, "--json").stdout)
    assert stats["interactions"] == len(dataset.interactions)
    raw = invoke("data", "describe", csv_file, "--format", "csv", "--json")
    assert raw.exit_code == 0, raw.output
    assert json.loads(raw.stdout)["interactions"] == stats["interactions"]


def test_import_refuses_existing_output_without_force(csv_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "taken"
    out.mkdir()
    write_marker(out)  # an earlier recaug output: --force may replace it (not a folder of other files)
    (out / "keep.txt").write_text("mine", encoding="utf-8")
    result = invoke("data", "import", csv_file, "-o", out)
    assert result.exit_code == 2
    assert "--force" in result.stderr
    assert (out / "keep.txt").read_text(encoding="utf-8") == "mine"
    result = invoke("data", "import", csv_file, "--format", "csv", "-o", out, "--force")
    assert result.exit_code == 0, result.output
    assert not (out / "keep.txt").exists() and (out / "schema.json").is_file()


def test_import_bad_data_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("user,item,timestamp\nu1,i1,100\nu2,,200\n", encoding="utf-8")
    result = invoke("data", "import", bad, "--format", "csv", "-o", tmp_path / "out")
    assert result.exit_code == 3, result.output
    assert "bad.csv" in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_import_unknown_format_is_a_usage_error(csv_file: Path, tmp_path: Path) -> None:
    result = invoke("data", "import", csv_file, "--format", "no-such-format", "-o", tmp_path / "out")
    assert result.exit_code == 2
    assert "no-such-format" in result.stderr


# -- demo: the whole flow through the pipeline runner ---------------------------------------
FAST = ("--set", "train.params.epochs=1", "--set", "evaluate.bootstrap=50")


def test_demo_runs_the_whole_flow(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = invoke("demo", "--out", out, "--users", "300", "--seed", "1", *FAST)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    for stage in ("data", "preprocess", "split", "expand", "generate", "fuse", "train", "evaluate", "report"):
        assert any(line.startswith(stage) for line in lines), stage
    assert "report:" in lines[-1] and str(out / "report.html") in lines[-1]
    for name in ("report.html", "report.md", "report.json", "results.json", "protocol.json",
                 "manifest.json", "config.resolved.yaml", "logs.jsonl"):  # fmt: skip
        assert (out / name).is_file(), name
    assert json.loads((out / "protocol.json").read_text())["split"] == "leave_last_out"
    manifest = json.loads((out / "manifest.json").read_text())
    assert [s["stage"] for s in manifest["stages"]][:3] == ["data", "preprocess", "split"]
    assert {s["status"] for s in manifest["stages"]} == {"ran"}
    results = json.loads((out / "results.json").read_text())
    arms = results["arms"]
    assert set(arms) == {"control", "crop_mask", "vae_short"} and results["seeds"] == [1]
    assert arms["control"]["1"]["rows_added"] == 0 and arms["crop_mask"]["1"]["rows_added"] > 0
    assert arms["vae_short"]["1"]["rows_added"] > 0  # the synthesizer completed short users
    # control and augmented share data, split and seed; only the augmentation differs
    assert arms["control"]["1"]["stages"]["split"] == arms["crop_mask"]["1"]["stages"]["split"]
    assert "test" in arms["crop_mask"]["1"]["summary"]
    # light preprocessing keeps short-history users (a 5-core would remove them all)
    dataset = Dataset.load(out / results["shared"]["preprocess"] / "dataset")
    lengths = dataset.interactions.frame.group_by("user_id").len().get_column("len")
    assert lengths.min() == 3
    report = json.loads((out / "report.json").read_text())
    assert "history<=3" in report["headline"]["segments"]
    paired = [r for r in report["headline"]["rows"] if r["variant"] == "crop_mask" and r["segment"] == "all"]
    assert paired and all("t_pvalue" in r for r in paired)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp folders left


def test_demo_config_is_built_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from recaug.pipeline.builtin import demo_config

    monkeypatch.chdir(tmp_path)  # no configs/ folder here
    config = demo_config(n_users=500, seed=4)
    assert config.data.source == "simulate" and config.data.simulate["n_users"] == 500
    assert config.seeds == [4] and config.variant_names() == ["control", "crop_mask", "vae_short"]
    assert all(step["step"] != "kcore" for step in config.preprocess.steps)
    result = invoke("config", "show", "builtin:demo", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["name"] == "demo"


def test_demo_refuses_existing_output_then_force_replaces(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    out.mkdir()
    write_marker(out, "run")  # an earlier run: --force may replace it (not a folder of other files)
    (out / "old.txt").write_text("x", encoding="utf-8")
    result = invoke("demo", "--out", out, "--users", "100")
    assert result.exit_code == 2
    assert "--force" in result.stderr
    assert (out / "old.txt").exists()
    result = invoke("-q", "demo", "--out", out, "--users", "100", "--force", *FAST)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""  # --quiet: no stage lines
    assert not (out / "old.txt").exists() and (out / "manifest.json").is_file()


def test_demo_bad_settings_are_usage_errors(tmp_path: Path) -> None:
    assert invoke("demo", "--out", tmp_path / "d", "--users", "0").exit_code == 2
    assert invoke("demo", "--out", tmp_path / "d", "--users", "many").exit_code == 2
    assert invoke("demo", "--out", tmp_path / "d", "--set", "train.nope=1").exit_code == 2
    assert not (tmp_path / "d").exists()


def test_logging_handler_is_attached_once() -> None:
    invoke("doctor", "--json")
    invoke("doctor", "--json")
    tagged = [h for h in logging.getLogger("recaug").handlers if getattr(h, "_recaug_cli_handler", False)]
    assert len(tagged) == 1
