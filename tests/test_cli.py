"""The ``recaug`` command line: every command, exit codes, JSON output, demo files."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from recaug.cli import app
from recaug.data import Dataset

runner = CliRunner()


@pytest.fixture(autouse=True)
def _restore_recaug_logger() -> Iterator[None]:
    """The CLI configures the ``recaug`` logger; put it back so other tests see the defaults."""
    logger = logging.getLogger("recaug")
    handlers, level = list(logger.handlers), logger.level
    yield
    logger.handlers[:] = handlers
    logger.setLevel(level)


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


def invoke(*args: str | Path):
    return runner.invoke(app, [str(a) for a in args])


# -- global behaviour ---------------------------------------------------------------------
def test_help_and_version() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    for command in ("data", "demo", "doctor"):
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


# -- demo (needs recaug.preprocess) --------------------------------------------------------
def test_demo_writes_the_expected_files(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = invoke("demo", "--out", out, "--users", "300", "--seed", "1")
    assert result.exit_code == 0, result.output
    for stage in ("simulate", "preprocess", "split", "describe", "save"):
        assert stage in result.stdout
    for name in ("dataset/schema.json", "split/train.parquet", "split/valid.parquet", "split/test.parquet",
                 "protocol.json", "describe.json", "preprocess.json", "manifest.json"):  # fmt: skip
        assert (out / name).is_file(), name
    assert json.loads((out / "protocol.json").read_text())["split"] == "leave_last_out"
    manifest = json.loads((out / "manifest.json").read_text())
    assert [s["stage"] for s in manifest["stages"]][:2] == ["simulate", "preprocess"]
    dataset = Dataset.load(out / "dataset")
    parts = sum(len(pl.read_parquet(out / "split" / f"{p}.parquet")) for p in ("train", "valid", "test"))
    assert parts == len(dataset.interactions)
    assert json.loads((out / "describe.json").read_text())["interactions"] == len(dataset.interactions)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp folders left


def test_demo_refuses_existing_output_then_force_replaces(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    out.mkdir()
    (out / "old.txt").write_text("x", encoding="utf-8")
    result = invoke("demo", "--out", out, "--users", "100")
    assert result.exit_code == 2
    assert (out / "old.txt").exists()
    result = invoke("-q", "demo", "--out", out, "--users", "100", "--force")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""  # --quiet: no stage lines
    assert not (out / "old.txt").exists() and (out / "manifest.json").is_file()


def test_demo_bad_settings_are_usage_errors(tmp_path: Path) -> None:
    assert invoke("demo", "--out", tmp_path / "d", "--users", "0").exit_code == 2
    assert invoke("demo", "--out", tmp_path / "d", "--users", "many").exit_code == 2
    assert not (tmp_path / "d").exists()


def test_logging_handler_is_attached_once() -> None:
    invoke("doctor", "--json")
    invoke("doctor", "--json")
    tagged = [h for h in logging.getLogger("recaug").handlers if getattr(h, "_recaug_cli_handler", False)]
    assert len(tagged) == 1
