"""MovieLens: ``u.data`` + ``u.item`` + ``u.user`` (100K), ``ratings.dat`` + ``movies.dat`` +
``users.dat`` (1M/10M, ``::`` separated), or ``ratings.csv`` + ``movies.csv`` (latest).

``src`` may be the folder or the ratings file; side files are picked up from the same
folder. Movies get ``title``, ``genres`` (list) and ``category`` (the first genre); users
get their demographics. ``u.item`` and ``*.dat`` files are Latin-1 encoded.
"""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Unpack

import polars as pl

from recaug import columns as C
from recaug.data.dataset import Dataset
from recaug.data.io.convert import Where
from recaug.data.io.files import read_bytes, require_file
from recaug.data.io.frames import canonical_frame, to_dataset
from recaug.data.io.generic import read_delimited_table
from recaug.data.io.items import canonical_item_table, merge_item_tables, read_item_table
from recaug.data.io.lines import read_lines
from recaug.data.io.options import Options, ReadOptions
from recaug.errors import DataError

#: ML-100K genre order (used when ``u.genre`` is absent).
GENRES_100K = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama",
    "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
)
_RATINGS = ("u.data", "ratings.dat", "ratings.csv")
_ROLES = {C.USER: "user", C.ITEM: "item", C.RATING: "rating", C.TIME: "timestamp"}


def read_movielens(src: str | Path, **options: Unpack[ReadOptions]) -> Dataset:
    """Read a MovieLens folder or ratings file with its movie and user side files."""
    started = time.perf_counter()
    opts = Options.of(options)
    path = Path(src)
    if path.is_dir():
        found = [path / n for n in _RATINGS if (path / n).is_file()]
        if not found:
            raise DataError("no MovieLens ratings file in the folder", file=path, expected=" or ".join(_RATINGS))
        path = found[0]
    path = require_file(path)
    if path.name.endswith(".csv"):
        raw, _ = read_delimited_table(path, ",")
        roles = {C.USER: "userId", C.ITEM: "movieId", C.RATING: "rating", C.TIME: "timestamp"}
        missing = [c for c in roles.values() if c not in raw.columns]
        if missing:
            raise DataError(f"missing column(s) {missing}", file=path, column=missing[0],
                            expected="userId,movieId,rating,timestamp")
        first_row = 2
    elif path.name.endswith(".dat") and "::" in path.open("rb").readline().decode("latin-1"):
        raw, first_row = _double_colon(path, list(_ROLES.values())), 1
        roles = _ROLES
    else:
        raw, _ = read_delimited_table(path, "\t", has_header=False, new_columns=list(_ROLES.values()))
        roles, first_row = _ROLES, 1
    frame = canonical_frame(raw, roles, Where(path, first_row), integer_ids=True)
    items = merge_item_tables([
        _movies(path.parent),
        read_item_table(opts.item_side) if opts.item_side is not None else None,
    ])
    name = opts.name or (path.parent.name if path.name in _RATINGS else opts.dataset_name(path))
    return to_dataset(frame, items=items, users=_users(path.parent), name=name, source=path, started=started)


def _double_colon(path: Path, names: list[str]) -> pl.DataFrame:
    """A ``a::b::c`` file as an all-string frame; every line must have ``len(names)`` fields."""
    lines = read_lines(path, encoding="latin-1")
    n_sep = lines.get_column("line").str.count_matches("::", literal=True)
    bad = (n_sep != len(names) - 1).arg_true()
    if len(bad):
        i = int(bad[0])
        raise DataError(f"line has {int(n_sep[i]) + 1} fields", file=path, row=int(lines.get_column("row")[i]),
                        expected=f"{len(names)} fields separated by '::' ({'::'.join(names)})")
    parts = lines.get_column("line").str.split_exact("::", len(names) - 1).struct.rename_fields(names)
    return parts.struct.unnest()


def _latin1_table(path: Path, sep: str, names: list[str] | None) -> pl.DataFrame:
    data = read_bytes(path).decode("latin-1").encode("utf-8")
    try:
        return pl.read_csv(io.BytesIO(data), separator=sep, has_header=names is None, new_columns=names,
                           infer_schema=False, quote_char=None if sep == "|" else '"', truncate_ragged_lines=True)
    except pl.exceptions.PolarsError as exc:
        raise DataError(f"cannot read: {str(exc).splitlines()[0]}", file=path) from None


def _movies(folder: Path) -> pl.DataFrame | None:
    if (folder / "u.item").is_file():
        path = folder / "u.item"
        genres = list(GENRES_100K)
        if (folder / "u.genre").is_file():
            table = _latin1_table(folder / "u.genre", "|", ["name", "index"]).drop_nulls()
            genres = table.sort(pl.col("index").cast(pl.Int64)).get_column("name").to_list()
        names = ["item_id", "title", "release_date", "video_release_date", "imdb_url", *genres]
        raw = _latin1_table(path, "|", names)
        flags = [pl.when(pl.col(g) == "1").then(pl.lit(g)) for g in genres]
        raw = raw.with_columns(pl.concat_list(flags).list.drop_nulls().alias("genres")).drop(genres)
    elif (folder / "movies.dat").is_file():
        path = folder / "movies.dat"
        raw = _double_colon(path, ["item_id", "title", "genres"])
        raw = raw.with_columns(pl.col("genres").str.split("|"))
    elif (folder / "movies.csv").is_file():
        path = folder / "movies.csv"
        raw = _latin1_table(path, ",", None).rename({"movieId": "item_id"})
        raw = raw.with_columns(pl.col("genres").str.split("|"))
    else:
        return None
    table = canonical_item_table(raw, Where(path, 1))
    return table.with_columns(pl.col("genres").list.first().alias(C.CATEGORY))


def _users(folder: Path) -> pl.DataFrame | None:
    if (folder / "u.user").is_file():
        raw = _latin1_table(folder / "u.user", "|", ["user_id", "age", "gender", "occupation", "zip"])
    elif (folder / "users.dat").is_file():
        raw = _double_colon(folder / "users.dat", ["user_id", "gender", "age", "occupation", "zip"])
    else:
        return None
    return raw.with_columns(pl.col("user_id").str.strip_chars(), pl.col("age").cast(pl.Int64, strict=False))
