"""Taobao UserBehavior: CSV without header ``user,item,category,behavior,timestamp``.

``behavior`` (pv / cart / fav / buy) becomes ``event``; the category id goes to the item table.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Unpack

import polars as pl

from recaug import columns as C
from recaug.data.dataset import Dataset
from recaug.data.io import convert
from recaug.data.io.convert import Where
from recaug.data.io.files import require_file
from recaug.data.io.frames import canonical_frame, to_dataset
from recaug.data.io.generic import read_delimited_table
from recaug.data.io.items import read_item_table
from recaug.data.io.options import Options, ReadOptions

COLUMNS = ["user_id", "item_id", "category_id", "behavior_type", "timestamp"]
BEHAVIORS = ("pv", "cart", "fav", "buy")


def read_taobao(src: str | Path, **options: Unpack[ReadOptions]) -> Dataset:
    """Read a UserBehavior CSV (no header; integer ids; unix-second timestamps)."""
    started = time.perf_counter()
    opts = Options.of(options)
    path = require_file(src)
    raw, _ = read_delimited_table(path, opts.sep or ",", has_header=False, new_columns=COLUMNS)
    where = Where(path, 1)
    roles = {C.USER: "user_id", C.ITEM: "item_id", C.TIME: "timestamp", C.EVENT: "behavior_type",
             C.CATEGORY: "category_id"}
    convert.integers(raw.get_column("category_id"), where, "category_id", what="integer category ids")
    frame = canonical_frame(raw, roles, where, integer_ids=True)
    bad = ~frame.get_column(C.EVENT).is_in(BEHAVIORS)
    if bad.any():
        i = int(bad.arg_true()[0])
        raise where.error(f"unknown behavior {frame.get_column(C.EVENT)[i]!r}", i, "behavior_type",
                          " / ".join(BEHAVIORS))
    frame = frame.with_columns(pl.col(C.CATEGORY).cast(pl.Int64).cast(pl.Utf8))
    items = read_item_table(opts.item_side) if opts.item_side is not None else None
    return to_dataset(frame, items=items, name=opts.dataset_name(path), source=path, started=started)
