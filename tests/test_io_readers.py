"""Every reader on a tiny file written here: users, items, rows and original ids come back."""

from __future__ import annotations

import gzip
import json
import logging
from pathlib import Path

import pandas as pd
import polars as pl
import pytest

from recaug import columns as C
from recaug.data.io import FORMATS, from_pandas, from_polars, read


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def rows(dataset) -> list[tuple]:
    """(user, item, timestamp) with original ids, in (user, time) order."""
    f = dataset.with_original_ids()
    return list(zip(f[C.USER].to_list(), f[C.ITEM].to_list(), f[C.TIME].to_list(), strict=True))


def items_by_original(dataset, column: str) -> dict[str, object]:
    table = dataset.items
    originals = dataset.vocab.decode_items(table[C.ITEM].to_numpy()).to_list()
    return dict(zip(originals, table[column].to_list(), strict=True))


def test_formats_registry_has_every_format():
    assert set(FORMATS) == {"csv", "tsv", "parquet", "jsonl", "s3rec", "sasrec", "movielens", "recbole",
                            "taobao", "yoochoose", "diginetica", "amazon"}


def test_csv_with_guessed_columns_and_item_categories(tmp_path):
    f = write(tmp_path / "log.csv", "user,item,ts,category,event\nu1,a,100,shoes,view\nu1,b,50,hats,buy\nu2,a,70,shoes,view\n")
    ds = read(f)
    assert (ds.vocab.n_users, ds.vocab.n_items, len(ds.interactions)) == (2, 2, 3)
    assert rows(ds) == [("u1", "b", 50), ("u1", "a", 100), ("u2", "a", 70)]
    assert items_by_original(ds, C.CATEGORY) == {"a": "shoes", "b": "hats"}
    assert ds.with_original_ids()[C.EVENT].to_list() == ["buy", "view", "view"]
    assert C.CATEGORY not in ds.interactions.columns
    assert ds.name == "log"


def test_csv_named_columns_sep_and_item_side(tmp_path):
    f = write(tmp_path / "x.txt", "who|what|when|stars\n1|10|5|4.5\n1|11|6|3\n")
    side = write(tmp_path / "items.csv", "item_id,brand,price,title\n10,Acme,$3.50,Thing\n11,Bolt,2,Other\n99,X,1,Unused\n")
    ds = read(f, "csv", user_col="who", item_col="what", time_col="when", rating_col="stars", sep="|",
              item_side=side, name="mine")
    assert rows(ds) == [("1", "10", 5), ("1", "11", 6)]
    assert ds.with_original_ids()[C.RATING].to_list() == [4.5, 3.0]
    assert items_by_original(ds, C.BRAND) == {"10": "Acme", "11": "Bolt"}
    assert items_by_original(ds, C.PRICE) == {"10": 3.5, "11": 2.0}
    assert ds.name == "mine"


def test_tsv_with_query_column(tmp_path):
    f = write(tmp_path / "s.tsv", "user_id\titem_id\ttimestamp\tquery\nA\tx\t1\tred shoes\nA\ty\t2\tblue hat\n")
    ds = FORMATS["tsv"](f)
    assert rows(ds) == [("A", "x", 1), ("A", "y", 2)]
    assert ds.with_original_ids()[C.QUERY].to_list() == ["red shoes", "blue hat"]


def test_parquet_and_millisecond_timestamps(tmp_path):
    f = tmp_path / "t.parquet"
    pl.DataFrame({"user_id": [7, 7, 8], "item_id": ["p", "q", "p"],
                  "timestamp": [1_600_000_000_500, 1_600_000_000_400, 1_600_000_100_000]}).write_parquet(f)
    ds = read(f)
    # milliseconds -> seconds; the order inside one second follows the exact value
    assert rows(ds) == [("7", "q", 1_600_000_000), ("7", "p", 1_600_000_000), ("8", "p", 1_600_000_100)]


def test_jsonl_with_iso_times(tmp_path):
    f = write(tmp_path / "e.jsonl", '{"user_id": "a", "item_id": 1, "time": "2020-01-01T00:00:10Z"}\n'
                                    '{"user_id": "a", "item_id": 2, "time": "2020-01-01T00:00:05Z"}\n')
    ds = read(f)
    assert rows(ds) == [("a", "2", 1577836805), ("a", "1", 1577836810)]


def test_s3rec_with_side_files(tmp_path):
    f = write(tmp_path / "Shop.txt", "1 5 6 7\n2 6 8\n")
    write(tmp_path / "Shop_item2attributes.json", json.dumps({"5": [1, 2], "6": [2], "7": [3], "8": []}))
    write(tmp_path / "Shop_item_meta.tsv", "item_id\tasin\tbrand_guess\ttop_category\tcategories\n"
                                           "5\tA5\tOPI\tMakeup\tMakeup|Nails\n6\tA6\t\tSkin Care\tSkin Care\n")
    ds = read(f)
    assert ds.name == "Shop"
    assert rows(ds) == [("1", "5", 0), ("1", "6", 1), ("1", "7", 2), ("2", "6", 0), ("2", "8", 1)]
    assert items_by_original(ds, "attributes") == {"5": [1, 2], "6": [2], "7": [3], "8": []}
    assert items_by_original(ds, C.CATEGORY) == {"5": "Makeup", "6": "Skin Care", "7": None, "8": None}
    assert items_by_original(ds, C.BRAND)["5"] == "OPI"
    assert items_by_original(ds, "categories")["5"] == ["Makeup", "Nails"]


def test_sasrec_pairs(tmp_path):
    f = write(tmp_path / "ml.txt", "1 10\n1 12\n2 10\n1 11\n")
    ds = read(f, "sasrec")
    assert rows(ds) == [("1", "10", 0), ("1", "12", 1), ("1", "11", 2), ("2", "10", 0)]


def test_movielens_100k_folder(tmp_path):
    write(tmp_path / "u.data", "1\t10\t5\t881250949\n1\t11\t3\t881250940\n2\t10\t4\t891717742\n")
    genres = "|".join(["0"] * 19)
    drama = "|".join(["1" if i == 8 else "0" for i in range(19)])
    (tmp_path / "u.item").write_bytes(f"10|Caf\xe9 (1995)|01-Jan-1995||http://x|{drama}\n11|B|||http://y|{genres}\n".encode("latin-1"))
    write(tmp_path / "u.user", "1|24|M|technician|85711\n2|53|F|other|94043\n")
    ds = read(tmp_path)
    assert ds.name == tmp_path.name
    assert rows(ds) == [("1", "11", 881250940), ("1", "10", 881250949), ("2", "10", 891717742)]
    assert items_by_original(ds, C.TITLE)["10"] == "Café (1995)"
    assert items_by_original(ds, C.CATEGORY) == {"10": "Drama", "11": None}
    assert ds.users["occupation"].to_list() == ["technician", "other"]


def test_movielens_1m_ratings_dat(tmp_path):
    write(tmp_path / "ratings.dat", "1::1193::5::978300760\n1::661::3::978302109\n")
    write(tmp_path / "movies.dat", "1193::One Flew (1975)::Drama\n661::James (1996)::Animation|Children's\n")
    ds = FORMATS["movielens"](tmp_path / "ratings.dat")
    assert rows(ds) == [("1", "1193", 978300760), ("1", "661", 978302109)]
    assert items_by_original(ds, C.CATEGORY) == {"661": "Animation", "1193": "Drama"}


def test_movielens_latest_ratings_csv(tmp_path):
    write(tmp_path / "ratings.csv", "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,3,4.0,964981247\n")
    write(tmp_path / "movies.csv", 'movieId,title,genres\n1,"Toy Story, The (1995)",Adventure|Animation\n3,Grumpier,Comedy\n')
    ds = read(tmp_path)
    assert rows(ds) == [("1", "3", 964981247), ("1", "1", 964982703)]
    assert items_by_original(ds, C.TITLE)["1"] == "Toy Story, The (1995)"


def test_recbole_inter_and_item(tmp_path):
    folder = tmp_path / "toy"
    folder.mkdir()
    write(folder / "toy.inter", "user_id:token\titem_id:token\trating:float\ttimestamp:float\nu1\ti1\t5\t10\nu1\ti2\t4\t5\n")
    write(folder / "toy.item", 'item_id:token\ttitle:token_seq\tcategories:token_seq\tprice:float\ni1\tred "shoe"\tShoes Kids\t9.5\n')
    ds = read(folder)
    assert rows(ds) == [("u1", "i2", 5), ("u1", "i1", 10)]
    assert items_by_original(ds, C.CATEGORY) == {"i1": "Shoes", "i2": None}
    assert items_by_original(ds, C.PRICE)["i1"] == 9.5


def test_taobao(tmp_path):
    f = write(tmp_path / "UserBehavior.csv", "1,100,7,pv,1511544070\n1,101,8,buy,1511544000\n2,100,7,cart,1511561733\n")
    ds = read(f)
    assert rows(ds) == [("1", "101", 1511544000), ("1", "100", 1511544070), ("2", "100", 1511561733)]
    assert ds.with_original_ids()[C.EVENT].to_list() == ["buy", "pv", "cart"]
    assert items_by_original(ds, C.CATEGORY) == {"100": "7", "101": "8"}


def test_yoochoose_prepared_tsv(tmp_path):
    f = write(tmp_path / "clicks.txt", "SessionId\tItemId\tTime\n3\t9\t1396437466.94\n3\t8\t1396437466.10\n4\t9\t1396438212.3\n")
    ds = read(f)
    assert rows(ds) == [("3", "8", 1396437466), ("3", "9", 1396437466), ("4", "9", 1396438212)]
    assert ds.interactions.frame[C.SESSION].to_list() == [3, 3, 4]


def test_yoochoose_original_clicks(tmp_path):
    f = write(tmp_path / "yoochoose-clicks.dat", "1,2014-04-07T10:51:09.277Z,214536502,0\n"
                                                 "1,2014-04-07T10:54:09.868Z,214536500,S\n")
    ds = read(f)
    assert rows(ds) == [("1", "214536502", 1396867869), ("1", "214536500", 1396868049)]
    assert items_by_original(ds, C.CATEGORY) == {"214536500": "S", "214536502": None}


def test_diginetica(tmp_path):
    f = write(tmp_path / "views.csv", "session_id;user_id;item_id;timeframe;eventdate\n"
                                      "1;NA;81766;526309;2016-05-09\n1;NA;31331;1031;2016-05-09\n2;77;5;0;2016-01-03\n")
    ds = read(f)
    day = 1462752000  # 2016-05-09
    assert rows(ds) == [("1", "31331", day + 1), ("1", "81766", day + 526), ("2", "5", 1451779200)]
    assert ds.users["customer_id"].to_list() == [None, "77"]


def test_amazon_reviews_with_metadata(tmp_path):
    reviews = tmp_path / "reviews_Shop_5.json.gz"
    reviews.write_bytes(gzip.compress(
        b'{"reviewerID": "R1", "asin": "A", "overall": 5.0, "unixReviewTime": 1400000000, "helpful": [0, 1]}\n'
        b'{"reviewerID": "R1", "asin": "B", "overall": 3.0, "unixReviewTime": 1300000000}\n'))
    write(tmp_path / "meta_Shop.json", '{"asin": "A", "title": "Lipstick", "brand": "X", "price": 9.5, '
                                       '"categories": [["Beauty", "Makeup", "Lips"]]}\n'
                                       '{"asin": "Z", "title": "Unreviewed"}\n')
    ds = read(reviews)
    assert ds.name == "Shop"
    assert rows(ds) == [("R1", "B", 1300000000), ("R1", "A", 1400000000)]
    assert ds.with_original_ids()[C.RATING].to_list() == [3.0, 5.0]
    assert items_by_original(ds, C.CATEGORY) == {"A": "Makeup", "B": None}
    assert items_by_original(ds, "categories")["A"] == ["Makeup", "Lips"]


def test_from_pandas_and_from_polars(tmp_path):
    pdf = pd.DataFrame({"customer_id": [1.0, 1.0, 2.0], "sku": ["a", "b", "a"], "timestamp": [3, 1, 2]})
    ds = from_pandas(pdf)
    assert rows(ds) == [("1", "b", 1), ("1", "a", 3), ("2", "a", 2)]
    ds2 = from_polars(pl.from_pandas(pdf), user_col="customer_id", item_col="sku")
    assert rows(ds2) == rows(ds)


def test_auto_logs_its_guess(tmp_path, caplog):
    f = write(tmp_path / "B.txt", "1 2 3\n2 3 4\n")
    with caplog.at_level(logging.INFO, logger="recaug.data.io"):
        read(f)
    assert any("guessed format 's3rec'" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("a.csv", "user_id,item_id\n1,2\n", "csv"),
        ("a.tsv", "user_id\titem_id\n1\t2\n", "tsv"),
        ("seq.txt", "1 2 3\n2 3\n", "s3rec"),
        ("pairs.txt", "1 2\n1 3\n", "sasrec"),
        ("ub.csv", "1,2,3,pv,1511544070\n", "taobao"),
        ("d.csv", "session_id;user_id;item_id;timeframe;eventdate\n1;NA;2;3;2016-01-01\n", "diginetica"),
        ("y.txt", "SessionId\tItemId\tTime\n1\t2\t3.5\n", "yoochoose"),
        ("r.json", '{"reviewerID": "a", "asin": "b", "unixReviewTime": 1}\n', "amazon"),
        ("e.jsonl", '{"user_id": "a", "item_id": "b"}\n', "jsonl"),
    ],
)
def test_guess_format(tmp_path, name, text, expected):
    from recaug.data.io.detect import guess_format

    assert guess_format(write(tmp_path / name, text))[0] == expected


def test_formats_without_times_are_not_given_a_time_span(tmp_path):
    """S3Rec/SASRec files have positions, not times: describe must not call them a time span (B.8)."""
    from recaug.data import Dataset
    from recaug.data.describe import describe, describe_markdown

    path = tmp_path / "Beauty.txt"
    path.write_text("1 10 11 12\n2 11 12 13 14\n")
    ds = read(path, format="s3rec")
    assert ds.time_kind == "position"
    stats = describe(ds)
    assert stats["time"] == {"kind": "position"}
    assert "time span" not in describe_markdown(stats)
    again = Dataset.load(ds.save(tmp_path / "ds"))  # kept through save / load
    assert again.time_kind == "position"
    assert "time span" not in (tmp_path / "ds" / "summary.md").read_text()
