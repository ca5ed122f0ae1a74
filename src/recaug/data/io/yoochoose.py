"""YOOCHOOSE (RecSys Challenge 2015) session logs; the session is the ``user_id``.

Two layouts are understood:

* the original ``yoochoose-clicks.dat``: no header, ``session,timestamp,item,category`` with
  ISO-8601 times (``yoochoose-buys.dat``: ``session,timestamp,item,price,quantity``, read with
  ``event = "buy"``); category ``0`` means unknown;
* the prepared session-rec files: tab separated with a header ``SessionId ItemId Time``
  (unix seconds with a fraction).

``session_id`` keeps the session number as well.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Unpack

import polars as pl

from recaug import columns as C
from recaug.data.dataset import Dataset
from recaug.data.io.convert import Where
from recaug.data.io.files import head_lines, require_file
from recaug.data.io.frames import canonical_frame, to_dataset
from recaug.data.io.generic import read_delimited_table
from recaug.data.io.items import read_item_table
from recaug.data.io.options import Options, ReadOptions
from recaug.data.io.schema import resolve_column

CLICKS = ["session_id", "timestamp", "item_id", "category"]
BUYS = ["session_id", "timestamp", "item_id", "price", "quantity"]


def read_yoochoose(src: str | Path, **options: Unpack[ReadOptions]) -> Dataset:
    """Read YOOCHOOSE clicks/buys or a prepared ``SessionId ItemId Time`` file."""
    started = time.perf_counter()
    opts = Options.of(options)
    path = require_file(src)
    first = head_lines(path, 1)[0]
    if "sessionid" in first.lower():
        raw, _ = read_delimited_table(path, opts.sep or "\t")
        columns = list(raw.columns)
        roles = {
            C.USER: resolve_column(C.USER, opts.user_col or "SessionId", columns, file=path),
            C.ITEM: resolve_column(C.ITEM, opts.item_col or "ItemId", columns, file=path),
            C.TIME: resolve_column(C.TIME, opts.time_col or "Time", columns, file=path),
        }
        first_row = 2
    else:
        names = BUYS if first.count(",") == 4 else CLICKS
        raw, _ = read_delimited_table(path, ",", has_header=False, new_columns=names)
        roles = {C.USER: "session_id", C.ITEM: "item_id", C.TIME: "timestamp"}
        if names is CLICKS:
            roles[C.CATEGORY] = "category"
        else:
            roles[C.PRICE] = "price"
        first_row = 1
    frame = canonical_frame(raw, roles, Where(path, first_row), integer_ids=True)
    frame = frame.with_columns(pl.col(C.USER).cast(pl.Int64).alias(C.SESSION))
    if C.CATEGORY in frame.columns:
        frame = frame.with_columns(
            pl.when(pl.col(C.CATEGORY) == "0").then(None).otherwise(pl.col(C.CATEGORY)).alias(C.CATEGORY)
        )
    if C.PRICE in frame.columns:
        frame = frame.with_columns(pl.lit("buy").alias(C.EVENT))
    items = read_item_table(opts.item_side) if opts.item_side is not None else None
    return to_dataset(frame, items=items, name=opts.dataset_name(path), source=path, started=started)
