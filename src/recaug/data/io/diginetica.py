"""DIGINETICA (CIKM Cup 2016) item views: ``session;user;item;timeframe;date`` with a header.

The session is the ``user_id`` (``session_id`` keeps it too); the logged-in customer id, when
known (``NA`` otherwise), goes to the user table: ``customer_id`` (the first one seen) and
``customer_ids`` (all, in order; a few sessions have more than one). ``timeframe`` is
milliseconds since the session started, so ``timestamp = date (UTC midnight) + timeframe // 1000``
and rows are ordered by (date, timeframe) within the session.
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
from recaug.data.io.frames import to_dataset
from recaug.data.io.generic import read_delimited_table
from recaug.data.io.items import read_item_table
from recaug.data.io.options import Options, ReadOptions
from recaug.data.io.schema import resolve_column


def read_diginetica(src: str | Path, **options: Unpack[ReadOptions]) -> Dataset:
    """Read ``train-item-views.csv`` (or a sample of it)."""
    started = time.perf_counter()
    opts = Options.of(options)
    path = require_file(src)
    raw, _ = read_delimited_table(path, opts.sep or ";")
    cols = list(raw.columns)
    session = resolve_column(C.SESSION, opts.user_col or _pick(cols, "sessionid", "session_id"), cols, file=path)
    customer = _pick(cols, "userid", "user_id")
    item = resolve_column(C.ITEM, opts.item_col or _pick(cols, "itemid", "item_id"), cols, file=path)
    frame_col = resolve_column("timeframe", _pick(cols, "timeframe") or "timeframe", cols, file=path)
    date_col = resolve_column("eventdate", opts.time_col or _pick(cols, "eventdate") or "eventdate", cols,
                              file=path)
    where = Where(path, 2)
    sessions = convert.ids(raw.get_column(session), where, session, integer=True)
    items = convert.ids(raw.get_column(item), where, item, integer=True)
    offset = convert.integers(raw.get_column(frame_col), where, frame_col, what="milliseconds since session start")
    dates = raw.get_column(date_col).str.strip_chars().str.to_date("%Y-%m-%d", strict=False)
    bad = dates.is_null()
    if bad.any():
        i = int(bad.arg_true()[0])
        raise where.error(f"cannot parse {raw.get_column(date_col)[i]!r} as a date", i, date_col, "YYYY-MM-DD")
    day_seconds = dates.cast(pl.Datetime("ms")).dt.epoch("s")
    seconds, _ = convert.timestamps(day_seconds + offset // 1000, where, frame_col)
    frame = pl.DataFrame({
        C.USER: sessions,
        C.ITEM: items,
        C.TIME: seconds,
        C.SESSION: sessions.cast(pl.Int64),
        "__date": dates,
        "__offset": offset,
    }).sort("__date", "__offset", maintain_order=True).drop("__date", "__offset")
    users = None
    if customer is not None:
        known = raw.get_column(customer).str.strip_chars()
        users = (
            pl.DataFrame({C.USER: sessions, "customer_id": known})
            .filter(~pl.col("customer_id").is_in(["NA", ""]) & pl.col("customer_id").is_not_null())
            .group_by(C.USER, maintain_order=True)
            .agg(pl.col("customer_id").unique(maintain_order=True).alias("customer_ids"))
            .with_columns(pl.col("customer_ids").list.first().alias("customer_id"))
        )
    side = read_item_table(opts.item_side) if opts.item_side is not None else None
    return to_dataset(frame, items=side, users=users, name=opts.dataset_name(path), source=path, started=started)


def _pick(columns: list[str], *names: str) -> str | None:
    lower = {c.lower(): c for c in columns}
    return next((lower[n] for n in names if n in lower), None)
