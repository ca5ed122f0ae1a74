"""``user item`` pairs, one per line, in time order (the SASRec ``ml-1m.txt`` format).

There are no times: ``timestamp`` is the position of the pair among the user's lines.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Unpack

import polars as pl

from recaug import columns as C
from recaug.data.dataset import Dataset
from recaug.data.io.files import require_file
from recaug.data.io.frames import to_dataset
from recaug.data.io.items import read_item_table
from recaug.data.io.lines import as_integers, read_lines, tokens
from recaug.data.io.options import Options, ReadOptions
from recaug.errors import DataError


def read_sasrec(src: str | Path, **options: Unpack[ReadOptions]) -> Dataset:
    """Read ``user item`` lines (whitespace or ``sep`` separated, integer ids)."""
    started = time.perf_counter()
    opts = Options.of(options)
    path = require_file(src)
    tok = tokens(read_lines(path), opts.sep)
    counts = tok.group_by("row").agg(pl.len().alias("n")).filter(pl.col("n") != 2).sort("row")
    if counts.height:
        row, n = counts.row(0)
        raise DataError(f"line has {n} field(s)", file=path, row=row, expected="exactly 2 fields: user_id item_id")
    tok = as_integers(tok, path, "user_id/item_id", "integer user and item ids")
    frame = pl.DataFrame([
        tok.filter(pl.col("pos") == 0).get_column("value").cast(pl.Utf8).alias(C.USER),
        tok.filter(pl.col("pos") == 1).get_column("value").cast(pl.Utf8).alias(C.ITEM),
    ])
    items = read_item_table(opts.item_side) if opts.item_side is not None else None
    dataset = to_dataset(frame, items=items, name=opts.dataset_name(path), source=path, started=started)
    dataset.time_kind = "position"  # no times in this format: timestamp is the position
    return dataset
