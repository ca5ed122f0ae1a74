"""Search-log readers: CSV / Parquet / JSON lines, column mapping, errors naming file/row/column, save/load."""

from __future__ import annotations

import json

import polars as pl
import pytest

from recaug import columns as C
from recaug.data.dataset import Dataset
from recaug.errors import ConfigError, DataError
from recaug.search import SearchLog, read_search_log

ROWS = {"uid": ["u1", "u1", "u2"], "sku": ["a", "b", "a"], "q": ["Red Shoes", "blue hat", "red shoes"],
        "ts": [10, 20, 5]}


def _csv(tmp_path, text: str, name: str = "log.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl"])
def test_reads_every_format_with_column_mapping(tmp_path, fmt):
    frame = pl.DataFrame(ROWS)
    path = tmp_path / f"log.{fmt}"
    {"csv": frame.write_csv, "parquet": frame.write_parquet, "jsonl": frame.write_ndjson}[fmt](path)
    log = read_search_log(path, user_col="uid", item_col="sku", query_col="q", time_col="ts")
    rows = log.dataset.with_original_ids().select(C.USER, C.ITEM, C.TIME, C.QUERY).rows()
    assert rows == [("u1", "a", 10, "Red Shoes"), ("u1", "b", 20, "blue hat"), ("u2", "a", 5, "red shoes")]
    assert log.query_keys().to_list() == ["red shoes", "blue hat", "red shoes"]
    assert log.item_space == 4


def test_guesses_usual_column_names(tmp_path):
    path = _csv(tmp_path, "user_id,item_id,search_query,timestamp\n1,10,shoes,3\n1,11,hat,4\n")
    log = read_search_log(path)
    assert log.queries.to_list() == ["shoes", "hat"]
    assert log.dataset.time_kind == "clock"


def test_missing_query_names_file_row_and_column(tmp_path):
    path = _csv(tmp_path, "user,item,query\nu1,a,shoes\nu1,b,  \nu2,c,hat\n")
    with pytest.raises(DataError) as info:
        read_search_log(path)
    assert (info.value.file, info.value.row, info.value.column) == (str(path), 3, "query")
    assert "log.csv" in str(info.value) and "row 3" in str(info.value)
    log = read_search_log(path, missing_queries="drop")
    assert log.queries.to_list() == ["shoes", "hat"]


def test_no_query_column_is_named(tmp_path):
    path = _csv(tmp_path, "user,item\nu1,a\n")
    with pytest.raises(DataError, match="no query column") as info:
        read_search_log(path)
    assert info.value.column == "query"
    with pytest.raises(DataError, match="did you mean 'query'") as info:
        read_search_log(_csv(tmp_path, "user,item,query\nu1,a,x\n", "b.csv"), query_col="querry")
    assert info.value.column == "querry"


def test_bad_row_after_a_dropped_query_keeps_file_row_numbers(tmp_path):
    path = _csv(tmp_path, "user,item,query,ts\nu1,a,,1\nu1,b,hat,2\nu2,c,cap,x7\n")
    with pytest.raises(DataError) as info:
        read_search_log(path, missing_queries="drop")
    assert (info.value.row, info.value.column) == (4, "ts")


def test_parquet_row_is_the_record_number(tmp_path):
    path = tmp_path / "log.parquet"
    pl.DataFrame({"user": ["u", "v"], "item": ["a", "b"], "query": ["x", None]}).write_parquet(path)
    with pytest.raises(DataError) as info:
        read_search_log(path)
    assert (info.value.row, info.value.column) == (2, "query")


def test_bad_options_are_config_errors(tmp_path):
    path = _csv(tmp_path, "user,item,query\nu,a,x\n")
    with pytest.raises(ConfigError):
        read_search_log(path, missing_queries="ignore")
    with pytest.raises(ConfigError):
        read_search_log(path, format="xlsx")


def test_search_log_requires_queries_on_every_row():
    frame = pl.DataFrame({C.USER: ["u", "u"], C.ITEM: ["a", "b"], C.QUERY: ["x", None]})
    dataset = Dataset.from_frame(frame)
    with pytest.raises(DataError) as info:
        SearchLog(dataset)
    assert info.value.column == "query"
    assert len(SearchLog.from_dataset(dataset, missing="drop")) == 1
    with pytest.raises(DataError, match="query"):
        SearchLog.from_dataset(Dataset.from_frame(frame.drop(C.QUERY)))


def test_save_load_round_trip(tmp_path):
    path = _csv(tmp_path, "user,item,query,ts\nu1,a,shoes,1\nu2,b,hat,2\n")
    log = read_search_log(path)
    folder = log.save(tmp_path / "saved")
    again = read_search_log(folder)
    assert again.frame.equals(log.frame) and again.vocab == log.vocab
    assert json.loads((folder / "schema.json").read_text())["format"] == "recaug-dataset"


def test_item_text_column_is_checked(tmp_path):
    path = _csv(tmp_path, "user,item,query\nu1,a,shoes\n")
    with pytest.raises(DataError) as info:
        read_search_log(path).item_text("text")
    assert info.value.column == "text"
