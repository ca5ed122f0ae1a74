"""``recaug search``: build-queries (demo), import, evaluate; exit codes and error lines."""

from __future__ import annotations

import json

import pytest

from cli_helpers import invoke

pytest.importorskip("bm25s")


def test_build_queries_then_evaluate_both_splits(tmp_path):
    log_dir = tmp_path / "log"
    res = invoke("search", "build-queries", "--dataset", "demo", "-o", log_dir)
    assert res.exit_code == 0, res.output
    assert (log_dir / "interactions.parquet").is_file()
    out = tmp_path / "eval"
    res = invoke("search", "evaluate", log_dir, "-o", out, "--model", "bm25", "-p", "k1=1.2", "--ks", "10",
                 "--save-model", tmp_path / "model")
    assert res.exit_code == 0, res.output
    doc = json.loads((out / "summary.json").read_text())
    assert doc["protocol"]["split"] == "search_leave_last_out"
    assert doc["protocol"]["model_settings"]["k1"] == 1.2
    assert set(doc["summary"]) == {"HR@10", "NDCG@10", "MRR@10"}
    assert (tmp_path / "model" / "terms.json").is_file()
    res = invoke("search", "evaluate", log_dir, "-o", out, "--split", "unseen_queries", "--json")
    assert res.exit_code == 2 and "exists" in res.output  # no --force: refuses to replace
    res = invoke("search", "evaluate", log_dir, "-o", out, "--split", "unseen_queries", "--force", "--json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["protocol"]["split"] == "search_unseen_queries"
    assert doc["segments"]["unseen_query"]["n_users"] == doc["n_users"] > 0


def test_import_reports_the_bad_row(tmp_path):
    src = tmp_path / "log.csv"
    src.write_text("user,item,q\nu1,a,shoes\nu2,b,\n", encoding="utf-8")
    res = invoke("search", "import", src, "-o", tmp_path / "out", "--query-col", "q")
    assert res.exit_code == 3
    assert "row 3" in res.output and "column 'q'" in res.output
    res = invoke("search", "import", src, "-o", tmp_path / "out", "--query-col", "q", "--missing-queries", "drop")
    assert res.exit_code == 0, res.output


def test_usage_errors_exit_2(tmp_path):
    res = invoke("search", "build-queries", "--dataset", "toys", "-o", tmp_path / "x")
    assert res.exit_code == 2 and "unknown search-log source" in res.output
    res = invoke("search", "build-queries", "--dataset", "beauty", "-o", tmp_path / "x")
    assert res.exit_code == 2 and "--data-root" in res.output
    res = invoke("search", "evaluate", tmp_path / "none", "-o", tmp_path / "e", "--model", "nope")
    assert res.exit_code == 2 and "unknown search model" in res.output
