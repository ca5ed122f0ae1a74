"""Outputs (issue 35 B): --force replaces only what recaug wrote, never an input; read-only and
umask behaviour; headerless CSV/TSV files (--no-header)."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from cli_helpers import invoke
from recaug.atomic import MARKER, atomic_dir, is_recaug_output, write_marker, write_text
from recaug.data import Dataset
from recaug.data.io import read
from recaug.errors import ConfigError, DataError, OutputExistsError
from recaug.pipeline.rundir import prepare_run_dir

pytestmark = pytest.mark.usefixtures("restore_recaug_logger")

TINY_RUN = {
    "name": "tiny",
    "data": {"source": "simulate", "simulate": {"n_users": 60, "n_items": 30, "seed": 3}},
    "train": {"model": "pop"},
    "seeds": [0],
}


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    """Six users with a header row user,item,timestamp."""
    rows = ["user,item,timestamp"]
    for u in range(6):
        rows += [f"u{u},i{(u + k) % 7},{1_700_000_000 + 60 * k}" for k in range(4)]
    path = tmp_path / "in" / "log.csv"
    path.parent.mkdir()
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def headerless(tmp_path: Path) -> Path:
    """The same kind of log without a header row (numeric ids)."""
    rows = [f"{u},{10 + (u + k) % 7},{1_700_000_000 + 60 * k}" for u in range(6) for k in range(4)]
    path = tmp_path / "raw.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def umask_027() -> Iterator[None]:
    """Run with umask 027 (group may read, others nothing), then restore the old one."""
    old = os.umask(0o027)
    yield
    os.umask(old)


def unrelated_folder(path: Path) -> Path:
    """A folder of the user's own files."""
    path.mkdir(parents=True)
    (path / "notes.txt").write_text("mine", encoding="utf-8")
    return path


def one_line(text: str) -> str:
    lines = [ln for ln in text.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, text
    return lines[0]


# -- 1. --force replaces only what recaug wrote, never an input -------------------------------------
def test_import_force_refuses_a_folder_of_other_files(csv_file: Path, tmp_path: Path) -> None:
    mine = unrelated_folder(tmp_path / "mine")
    result = invoke("data", "import", csv_file, "-o", mine, "--force")
    assert result.exit_code == 2, result.output
    line = one_line(result.stderr)
    assert str(mine) in line and "recaug did not write" in line
    assert (mine / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]


def test_import_force_replaces_its_own_output(csv_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "ds"
    assert invoke("data", "import", csv_file, "-o", out).exit_code == 0
    assert (out / MARKER).is_file() and is_recaug_output(out)
    again = invoke("data", "import", csv_file, "-o", out)
    assert again.exit_code == 2 and "--force" in again.stderr
    forced = invoke("data", "import", csv_file, "-o", out, "--force")
    assert forced.exit_code == 0, forced.output
    assert Dataset.load(out).vocab.n_users == 6


def test_import_into_the_folder_of_its_input_is_refused(
    csv_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(csv_file.parent)
    result = invoke("data", "import", csv_file.name, "-o", ".", "--force")
    assert result.exit_code == 2, result.output
    assert "contains the input" in one_line(result.stderr)
    assert sorted(p.name for p in csv_file.parent.iterdir()) == ["log.csv"]


def test_import_over_its_input_file_is_refused(csv_file: Path) -> None:
    before = csv_file.read_bytes()
    result = invoke("data", "import", csv_file, "-o", csv_file, "--force")
    assert result.exit_code == 2, result.output
    assert "is the input" in one_line(result.stderr)
    assert csv_file.is_file() and csv_file.read_bytes() == before


def test_expand_over_its_input_dataset_is_refused(csv_file: Path, tmp_path: Path) -> None:
    data = tmp_path / "ds"
    assert invoke("data", "import", csv_file, "-o", data).exit_code == 0
    result = invoke("expand", data, "--op", "crop", "-o", data, "--force")
    assert result.exit_code == 2, result.output
    assert "is the input" in one_line(result.stderr)
    assert (data / "schema.json").is_file() and not (data / "sequences.parquet").exists()


def test_run_force_refuses_a_folder_of_other_files(tmp_path: Path) -> None:
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY_RUN), encoding="utf-8")
    mine = unrelated_folder(tmp_path / "mine")
    result = invoke("run", config, "--out", mine, "--force", "--only", "split")
    assert result.exit_code == 2, result.output
    line = one_line(result.stderr)
    assert str(mine) in line and "recaug did not write" in line
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]


def test_run_force_refuses_a_run_folder_holding_its_config(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    write_marker(run_dir, "run")  # a recaug run, but the user keeps the config in it
    config = run_dir / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY_RUN), encoding="utf-8")
    result = invoke("run", config, "--out", run_dir, "--force", "--only", "split")
    assert result.exit_code == 2, result.output
    assert "contains the input" in one_line(result.stderr)
    assert config.is_file()


def test_library_force_never_deletes_other_files(tmp_path: Path) -> None:
    mine = unrelated_folder(tmp_path / "mine")
    with pytest.raises(OutputExistsError, match="recaug did not write"), atomic_dir(mine, force=True):
        pass
    with pytest.raises(OutputExistsError, match="recaug did not write"):
        prepare_run_dir(mine, resume=False, force=True)
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]
    empty = tmp_path / "empty"
    empty.mkdir()
    with atomic_dir(empty, force=True) as tmp:
        (tmp / "a.txt").write_text("a")
    assert is_recaug_output(empty) and (empty / "a.txt").is_file()


def test_a_manifest_json_alone_does_not_make_a_folder_a_run(tmp_path: Path) -> None:
    """Any folder may hold a file named manifest.json (a browser extension does): only the marker counts."""
    mine = unrelated_folder(tmp_path / "ext")
    (mine / "manifest.json").write_text("{}")
    with pytest.raises(OutputExistsError, match="recaug did not write"):
        prepare_run_dir(mine, resume=False, force=True)
    with pytest.raises(OutputExistsError):
        prepare_run_dir(mine, resume=True, force=False)
    assert sorted(p.name for p in mine.iterdir()) == ["manifest.json", "notes.txt"]


def test_resume_may_keep_its_config_inside_the_run(tmp_path: Path) -> None:
    """Only --force deletes; --resume of a run whose config lies inside it is allowed."""
    run_dir = tmp_path / "run"
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY_RUN), encoding="utf-8")
    assert invoke("run", config, "--out", run_dir, "--only", "split").exit_code == 0
    inside = run_dir / "tiny.yaml"
    inside.write_text(config.read_text())
    result = invoke("run", inside, "--out", run_dir, "--resume", "--only", "split")
    assert result.exit_code == 0, result.output


# -- 2. read-only folders and umask ---------------------------------------------------------------
def test_unwritable_output_folder_names_the_output_path(
    csv_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "ro" / "ds"

    def denied(*args: object, dir: str | None = None, prefix: str = "", **kwargs: object) -> str:
        raise PermissionError(13, "Permission denied", os.path.join(str(dir), f"{prefix}xyz"))

    monkeypatch.setattr(tempfile, "mkdtemp", denied)
    result = invoke("data", "import", csv_file, "-o", out)
    assert result.exit_code == 3, result.output
    line = one_line(result.stderr)
    assert str(out) in line and "Permission denied" in line and ".tmp-" not in line


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs a non-root POSIX user")
def test_read_only_parent_gives_one_line_naming_the_output(csv_file: Path, tmp_path: Path) -> None:
    parent = tmp_path / "ro"
    parent.mkdir()
    parent.chmod(0o555)
    try:
        result = invoke("data", "import", csv_file, "-o", parent / "ds")
    finally:
        parent.chmod(0o755)
    assert result.exit_code == 3, result.output
    line = one_line(result.stderr)
    assert str(parent / "ds") in line and ".tmp-" not in line


def test_outputs_follow_the_umask(csv_file: Path, tmp_path: Path, umask_027: None) -> None:
    out = tmp_path / "ds"
    assert invoke("data", "import", csv_file, "-o", out).exit_code == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o750
    for name in (MARKER, "schema.json", "interactions.parquet"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o640, name
    single = tmp_path / "note.txt"
    write_text(single, "x")
    assert stat.S_IMODE(single.stat().st_mode) == 0o640
    run_dir = tmp_path / "run"
    prepare_run_dir(run_dir, resume=False, force=False)
    assert stat.S_IMODE((run_dir / MARKER).stat().st_mode) == 0o640


# -- 3. headerless delimited files -----------------------------------------------------------------
def test_headerless_file_error_hints_at_no_header(headerless: Path, tmp_path: Path) -> None:
    result = invoke("data", "import", headerless, "-o", tmp_path / "ds")
    assert result.exit_code == 3
    assert "--no-header" in one_line(result.stderr)
    with pytest.raises(DataError, match="no_header=True"):
        read(headerless)


def test_no_header_names_columns_by_position(headerless: Path, tmp_path: Path) -> None:
    out = tmp_path / "ds"
    result = invoke("data", "import", headerless, "--no-header", "--user-col", "column_1",
                    "--item-col", "column_2", "--time-col", "column_3", "-o", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    dataset = Dataset.load(out)
    assert (dataset.vocab.n_users, len(dataset.interactions)) == (6, 24)
    tsv = tmp_path / "raw.tsv"
    tsv.write_text(headerless.read_text().replace(",", "\t"), encoding="utf-8")
    back = read(tsv, format="tsv", no_header=True, user_col="column_1", item_col="column_2")
    assert len(back.interactions) == 24


def test_no_header_is_refused_for_other_formats(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no_header"):
        read(tmp_path / "x.parquet", format="parquet", no_header=True)
