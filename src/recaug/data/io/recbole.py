"""RecBole atomic files: ``<name>.inter`` (tab separated, typed header such as ``user_id:token``)
plus an optional ``<name>.item`` with item features.

``token_seq`` fields become lists (split on spaces); ``float`` fields numbers. When the
item file has no ``category`` but has ``categories``, the first one becomes ``category``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Unpack

import polars as pl

from recaug import columns as C
from recaug.data.dataset import Dataset
from recaug.data.io.convert import Where
from recaug.data.io.files import require_file
from recaug.data.io.frames import dataset_from_table
from recaug.data.io.generic import read_delimited_table
from recaug.data.io.items import canonical_item_table, merge_item_tables, read_item_table
from recaug.data.io.options import Options, ReadOptions
from recaug.errors import DataError


def read_recbole(src: str | Path, **options: Unpack[ReadOptions]) -> Dataset:
    """Read a RecBole dataset folder or ``.inter`` file (and the ``.item`` file beside it)."""
    started = time.perf_counter()
    opts = Options.of(options)
    path = Path(src)
    if path.is_dir():
        candidates = [path / f"{path.name}.inter"] + sorted(path.glob("*.inter"))
        found = [p for p in candidates if p.is_file()]
        if not found:
            raise DataError("no .inter file in the folder", file=path, expected=f"{path.name}.inter")
        path = found[0]
    path = require_file(path)
    raw, _ = _typed_table(path)
    item_file = path.with_suffix(".item")
    items = merge_item_tables([
        _item_table(item_file) if item_file.is_file() else None,
        read_item_table(opts.item_side) if opts.item_side is not None else None,
    ])
    name = opts.name or path.stem
    return dataset_from_table(raw, file=path, first_row=2, requested=opts.requested(), items=items, name=name,
                              started=started)


def _typed_table(path: Path) -> tuple[pl.DataFrame, dict[str, str]]:
    raw, _ = read_delimited_table(path, "\t", quote_char=None)
    types: dict[str, str] = {}
    renames: dict[str, str] = {}
    for col in raw.columns:
        field, _, kind = col.partition(":")
        if not kind:
            raise DataError(f"header field {col!r} has no type", file=path, row=1, column=col,
                            expected="name:type with type token, token_seq, float or float_seq")
        renames[col] = field
        types[field] = kind
    raw = raw.rename(renames)
    return raw, types


def _item_table(path: Path) -> pl.DataFrame:
    raw, types = _typed_table(require_file(path, what="RecBole item file"))
    seqs = [c for c, t in types.items() if t.endswith("_seq")]
    floats = [c for c, t in types.items() if t == "float" and c != C.PRICE]
    raw = raw.with_columns(pl.col(seqs).str.strip_chars().str.split(" "),
                           pl.col(floats).cast(pl.Float64, strict=False))
    table = canonical_item_table(raw, Where(path, 2))
    if C.CATEGORY not in table.columns and "categories" in table.columns:
        first = pl.col("categories").list.first() if "categories" in seqs else pl.col("categories")
        table = table.with_columns(first.alias(C.CATEGORY))
    return table
