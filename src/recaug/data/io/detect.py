"""``format="auto"``: guess the reader from the name, extension and the first lines."""

from __future__ import annotations

import re
from pathlib import Path

from recaug.data.io.files import head_lines, require_file
from recaug.errors import DataError

_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T")
_INTS = re.compile(r"^\d+(\s+\d+)+$")


def guess_format(path: Path) -> tuple[str, str]:
    """``(format, reason)`` for ``path``; raises ``DataError`` when nothing fits."""
    if path.is_dir():
        return _guess_folder(path)
    require_file(path)
    name = path.name.lower()
    suffixes = "".join(path.suffixes).lower()
    if suffixes.endswith((".parquet", ".pq")):
        return "parquet", "Parquet extension"
    if suffixes.endswith(".inter"):
        return "recbole", "RecBole .inter extension"
    if name in ("u.data", "ratings.dat") or (name == "ratings.csv"):
        return "movielens", f"MovieLens file name {path.name}"
    lines = head_lines(path, 5)
    if not lines:
        raise DataError("file is empty", file=path, expected="at least one row of data")
    first = lines[0]
    if ".json" in suffixes or first.lstrip().startswith("{"):
        if '"reviewerID"' in first or ('"asin"' in first and ('"overall"' in first or '"rating"' in first)):
            return "amazon", "JSON lines with reviewerID/asin fields"
        return "jsonl", "JSON lines"
    low = first.lower()
    if "sessionid" in low.replace("_", "") and "timeframe" in low:
        return "diginetica", "header with session id and timeframe"
    if low.replace(" ", "").startswith("sessionid\titemid"):
        return "yoochoose", "session-rec header SessionId ItemId Time"
    fields = first.split(",")
    if len(fields) == 4 and _ISO.match(fields[1].strip()):
        return "yoochoose", "no header, session,ISO time,item,category"
    if len(fields) == 5 and fields[3].strip() in ("pv", "cart", "fav", "buy"):
        return "taobao", "no header, user,item,category,pv/cart/fav/buy,timestamp"
    if "userid" in low and "movieid" in low:
        return "movielens", "MovieLens ratings.csv header"
    if all(_INTS.match(ln.strip()) for ln in lines):
        if all(len(ln.split()) == 2 for ln in lines):
            return "sasrec", "integer pairs 'user item' per line"
        return "s3rec", "integer lines 'user item item ...'"
    if suffixes.endswith((".tsv", ".tsv.gz")) or "\t" in first:
        return "tsv", "tab-separated text"
    return "csv", "delimited text"


def _guess_folder(path: Path) -> tuple[str, str]:
    for name in ("u.data", "ratings.dat", "ratings.csv"):
        if (path / name).is_file():
            return "movielens", f"folder with {name}"
    if any(path.glob("*.inter")):
        return "recbole", "folder with a .inter file"
    raise DataError("cannot tell the format of this folder", file=path,
                    expected="a MovieLens folder (u.data, ratings.dat, ratings.csv) or a RecBole folder (*.inter)")
