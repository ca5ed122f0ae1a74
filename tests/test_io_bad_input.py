"""Bad input raises DataError naming the file, row, column and what was expected."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import polars as pl
import pytest

from recaug.data.io import FORMATS, from_pandas, read
from recaug.errors import DataError


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def fails(src, *args, **kwargs) -> DataError:
    with pytest.raises(DataError) as info:
        read(src, *args, **kwargs)
    err = info.value
    assert err.file is not None and Path(err.file).name in str(err)
    assert err.__cause__ is None and (err.__context__ is None or err.__suppress_context__)  # no chained traceback
    return err


def test_missing_file_suggests_close_name(tmp_path):
    write(tmp_path / "ratings.csv", "user_id,item_id\n1,2\n")
    err = fails(tmp_path / "ratngs.csv", "csv")
    assert "not found" in err.message and "ratings.csv" in err.message


def test_missing_file_auto(tmp_path):
    assert "not found" in fails(tmp_path / "nothing.csv").message


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl", "s3rec", "sasrec", "taobao", "yoochoose", "diginetica", "amazon"])
def test_empty_file(tmp_path, fmt):
    f = tmp_path / "empty.txt"
    f.write_bytes(b"")
    assert "empty" in fails(f, fmt).message


def test_header_only(tmp_path):
    err = fails(write(tmp_path / "h.csv", "user_id,item_id\n"))
    assert "no data rows" in err.message


def test_misspelled_column_suggests_close_match(tmp_path):
    f = write(tmp_path / "a.csv", "user_id,item_id,timestamp\n1,2,3\n")
    err = fails(f, user_col="usr_id")
    assert err.column == "usr_id" and "did you mean 'user_id'" in err.message


def test_missing_item_column_suggests(tmp_path):
    f = write(tmp_path / "a.csv", "user_id,itme\n1,2\n")
    err = fails(f)
    assert err.column == "item_id" and "'itme'" in err.message


def test_nan_id(tmp_path):
    err = fails(write(tmp_path / "a.csv", "user_id,item_id\n1,2\nnan,3\n"))
    assert (err.row, err.column) == (3, "user_id")


def test_empty_id(tmp_path):
    err = fails(write(tmp_path / "a.csv", "user_id,item_id\n1,2\n2,\n"))
    assert (err.row, err.column) == (3, "item_id")


def test_non_integer_id_where_ints_required(tmp_path):
    err = fails(write(tmp_path / "UB.csv", "1,100,7,pv,1511544070\n1,1x1,8,buy,1511544000\n"), "taobao")
    assert (err.row, err.column) == (2, "item_id") and "'1x1'" in err.message
    assert "integer" in err.expected


def test_non_integer_timestamp(tmp_path):
    err = fails(write(tmp_path / "a.csv", "user_id,item_id,timestamp\n1,2,100\n1,3,abc\n"))
    assert (err.row, err.column) == (3, "timestamp")


def test_nan_timestamp(tmp_path):
    err = fails(write(tmp_path / "a.csv", "user_id,item_id,timestamp\n1,2,100\n1,3,NaN\n"))
    assert (err.row, err.column) == (3, "timestamp") and "missing" in err.message


def test_nan_timestamp_in_pandas_frame():
    df = pd.DataFrame({"user_id": [1, 2], "item_id": [3, 4], "timestamp": [1.0, float("nan")]})
    with pytest.raises(DataError) as info:
        from_pandas(df)
    assert (info.value.row, info.value.column) == (1, "timestamp")


def test_fractional_id_in_pandas_frame():
    with pytest.raises(DataError) as info:
        from_pandas(pd.DataFrame({"user_id": [1.0, 2.5], "item_id": [3, 4]}))
    assert (info.value.row, info.value.column) == (1, "user_id")


def test_negative_timestamp(tmp_path):
    err = fails(write(tmp_path / "a.csv", "user_id,item_id,timestamp\n1,2,100\n1,3,-5\n"))
    assert (err.row, err.column) == (3, "timestamp") and "negative" in err.message


def test_timestamp_beyond_2100_in_seconds(tmp_path):
    err = fails(write(tmp_path / "a.csv", "user_id,item_id,timestamp\n1,2,1511544070\n1,3,9999999999\n"))
    assert (err.row, err.column) == (3, "timestamp") and "out of range" in err.message


def test_timestamp_beyond_2100_in_milliseconds(tmp_path):
    err = fails(write(tmp_path / "a.csv", "user_id,item_id,timestamp\n1,2,1511544070000\n1,3,9999999999999\n"))
    assert (err.row, err.column) == (3, "timestamp")


def test_duplicated_header_names(tmp_path):
    err = fails(write(tmp_path / "a.csv", "user_id,item_id,item_id\n1,2,3\n"))
    assert (err.row, err.column) == (1, "item_id") and "duplicated" in err.message


def test_duplicated_columns_in_pandas_frame():
    df = pd.DataFrame([[1, 2, 3]], columns=["user_id", "item_id", "item_id"])
    with pytest.raises(DataError, match="duplicated"):
        from_pandas(df)


def test_mixed_delimiters_near_top(tmp_path):
    err = fails(write(tmp_path / "a.csv", "user_id,item_id,timestamp\n1,2,3\n4;5;6\n"))
    assert err.row == 3 and "mixed delimiters" in err.message


def test_mixed_delimiters_far_down(tmp_path):
    body = "".join(f"{i},{i + 1},{i + 2}\n" for i in range(100))
    err = fails(write(tmp_path / "a.csv", "user_id,item_id,timestamp\n" + body + "7\t8\t9\n" + body))
    assert err.row == 102 and "mixed delimiters" in err.message


def test_extra_field(tmp_path):
    body = "".join(f"{i},{i + 1}\n" for i in range(50))
    err = fails(write(tmp_path / "a.csv", "user_id,item_id\n" + body + "1,2,3\n"))
    assert err.row == 52 and "fields" in err.message


def test_non_utf8_bytes(tmp_path):
    f = tmp_path / "a.csv"
    f.write_bytes(b"user_id,item_id\n1,2\n3,caf\xe9\n")
    err = fails(f)
    assert err.row == 3 and "UTF-8" in err.message


def test_non_utf8_bytes_in_sequence_file(tmp_path):
    f = tmp_path / "s.txt"
    f.write_bytes(b"1 2 3\n2 \xff 4\n")
    assert fails(f, "s3rec").row == 2


def test_truncated_parquet(tmp_path):
    f = tmp_path / "t.parquet"
    pl.DataFrame({"user_id": list(range(1000)), "item_id": list(range(1000))}).write_parquet(f)
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    err = fails(f)
    assert "Parquet" in err.message


def test_sequence_line_with_non_numeric_token(tmp_path):
    err = fails(write(tmp_path / "B.txt", "1 2 3\n2 3 x4 5\n"), "s3rec")
    assert err.row == 2 and "'x4'" in err.message and "token 3" in err.message


def test_sequence_line_without_items(tmp_path):
    assert fails(write(tmp_path / "B.txt", "1 2 3\n2\n"), "s3rec").row == 2


def test_sasrec_line_with_three_fields(tmp_path):
    assert fails(write(tmp_path / "p.txt", "1 2\n1 2 3\n"), "sasrec").row == 2


def test_item2attributes_with_unknown_item(tmp_path):
    f = write(tmp_path / "Shop.txt", "1 5 6\n2 6 5\n")
    write(tmp_path / "Shop_item2attributes.json", json.dumps({"5": [1], "6": [2], "77": [3]}))
    err = fails(f, "s3rec")
    assert "'77'" in err.message and err.file.endswith("Shop_item2attributes.json")


def test_item2attributes_with_non_integer_key(tmp_path):
    f = write(tmp_path / "Shop.txt", "1 5 6\n")
    write(tmp_path / "Shop_item2attributes.json", json.dumps({"5": [1], "six": [2]}))
    assert "'six'" in fails(f, "s3rec").message


def test_unknown_behavior(tmp_path):
    err = fails(write(tmp_path / "UB.csv", "1,100,7,pv,1511544070\n1,101,8,like,1511544000\n"), "taobao")
    assert (err.row, err.column) == (2, "behavior_type")


def test_bad_json_line(tmp_path):
    err = fails(write(tmp_path / "r.jsonl", '{"user_id": 1, "item_id": 2}\n{"user_id": 1, \n'), "jsonl")
    assert err.row == 2


def test_python_literal_metadata_is_explained(tmp_path):
    reviews = write(tmp_path / "reviews_S.json", '{"reviewerID": "a", "asin": "b", "unixReviewTime": 1}\n')
    write(tmp_path / "meta_S.json", "{'asin': 'b', 'title': 'x'}\n")
    err = fails(reviews)
    assert "Python literal" in err.message and err.row == 1


def test_diginetica_bad_date(tmp_path):
    f = write(tmp_path / "v.csv", "session_id;user_id;item_id;timeframe;eventdate\n1;NA;2;3;2016-13-45\n")
    assert (fails(f).row, fails(f).column) == (2, "eventdate")


def test_movielens_dat_bad_line(tmp_path):
    write(tmp_path / "ratings.dat", "1::1193::5::978300760\n1::661::3\n")
    assert fails(tmp_path).row == 2


def test_unknown_option_and_format(tmp_path):
    from recaug.errors import ConfigError

    f = write(tmp_path / "a.csv", "user_id,item_id\n1,2\n")
    with pytest.raises(ConfigError):
        read(f, "excel")
    with pytest.raises(ConfigError):
        FORMATS["csv"](f, user_column="x")


def test_synthetic_rows_in_a_raw_file_are_refused(tmp_path):
    # a fused file read as raw data would lose its provenance and be split: synthetic rows
    # could become test items
    err = fails(write(tmp_path / "fused.csv", "user_id,item_id,timestamp,source\n1,2,1,real\n1,3,2,vae\n"), "csv")
    assert err.column == "source" and err.row == 3 and "'vae'" in err.message and "test set" in err.message
    ok = read(write(tmp_path / "real.csv", "user_id,item_id,timestamp,source\n1,2,1,real\n1,3,2,\n"), "csv")
    assert len(ok.interactions) == 2
