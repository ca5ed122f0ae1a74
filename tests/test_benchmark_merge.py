"""benchmarks/merge_results.py: seeds merge only when measured the same way, never overwrite."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import BENCHMARKS, load_benchmark

SCRIPT = BENCHMARKS / "merge_results.py"
merge_results = load_benchmark("merge_results")


def _doc(seeds: list[int], *, protocol: dict | None = None, commit: str = "abc") -> dict:
    rows = [{"dataset": "beauty", "variant": v, "seed": s, "metrics": {"NDCG@10": 0.01 * s}}
            for s in seeds for v in ("bpr", "bpr+vae")]
    return {"benchmark": "generate_utility", "quick": False, "created": f"t{seeds[0]}", "git_commit": commit,
            "protocol": protocol or {"k": 5}, "results": rows}


def test_merge_appends_rows_and_records_origins() -> None:
    out = merge_results.merge(_doc([0]), _doc([1, 2], commit="def"), main_path=Path("a"), extra_path=Path("b"))
    assert [(r["variant"], r["seed"]) for r in out["results"]] == [
        ("bpr", 0), ("bpr+vae", 0), ("bpr", 1), ("bpr+vae", 1), ("bpr", 2), ("bpr+vae", 2)]
    assert [m["git_commit"] for m in out["merged_from"]] == ["abc", "def"]
    assert out["merged_from"][1]["rows"] == [f"beauty {v} seed {s}" for v in ("bpr", "bpr+vae") for s in (1, 2)]
    again = merge_results.merge(out, _doc([3], commit="ghi"), main_path=Path("a"), extra_path=Path("c"))
    assert [m["git_commit"] for m in again["merged_from"]] == ["abc", "def", "ghi"]


def test_merge_refuses_other_protocol_and_duplicate_rows() -> None:
    with pytest.raises(merge_results.MergeError, match="protocol"):
        merge_results.merge(_doc([0]), _doc([1], protocol={"k": 10}), main_path=Path("a"), extra_path=Path("b"))
    other = _doc([1])
    other["results"][0]["metrics"] = {"NDCG@10": 0.5}
    with pytest.raises(merge_results.MergeError, match="already in"):
        merge_results.merge(_doc([0, 1]), other, main_path=Path("a"), extra_path=Path("b"))


def test_identical_rows_are_kept_once_and_listed() -> None:
    extra = _doc([1, 2], commit="def")
    out = merge_results.merge(_doc([0, 1]), extra, main_path=Path("a"), extra_path=Path("b"))
    assert sorted((r["variant"], r["seed"]) for r in out["results"]) == sorted(
        (v, s) for s in (0, 1, 2) for v in ("bpr", "bpr+vae"))
    assert out["merged_from"][-1]["identical_rows_kept_once"] == ["beauty bpr 1", "beauty bpr+vae 1"]
    assert out["merged_from"][-1]["rows"] == ["beauty bpr seed 2", "beauty bpr+vae seed 2"]


def test_cli_writes_main_and_leaves_it_alone_on_error(tmp_path: Path) -> None:
    main, extra, bad = tmp_path / "main.json", tmp_path / "extra.json", tmp_path / "bad.json"
    main.write_text(json.dumps(_doc([0])))
    extra.write_text(json.dumps(_doc([1])))
    clash = _doc([0])
    clash["results"][0]["metrics"] = {"NDCG@10": 0.5}
    bad.write_text(json.dumps(clash))
    before = main.read_text()
    fail = subprocess.run([sys.executable, str(SCRIPT), str(main), str(bad)], capture_output=True, text=True)
    assert fail.returncode != 0 and "already in" in fail.stderr
    assert main.read_text() == before
    ok = subprocess.run([sys.executable, str(SCRIPT), str(main), str(extra)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert len(json.loads(main.read_text())["results"]) == 4
    assert json.loads(extra.read_text()) == _doc([1])
