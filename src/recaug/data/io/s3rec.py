"""One line per user, ``user item item ...`` in time order: the S3-Rec / CoSeRec / ICLRec files.

Side files found next to ``<Name>.txt`` are read automatically:

* ``<Name>_item2attributes.json``: ``{"item": [attr, ...]}`` -> item column ``attributes``
  (list of int); naming an item absent from the sequences is a ``DataError``.
* ``<Name>_item_meta.tsv``: ``item_id`` plus brand / category columns (``brand_guess`` ->
  ``brand``, ``top_category`` or ``sub_category`` -> ``category``; ``categories`` and
  ``attributes`` are ``|``-separated lists, kept as ``categories`` / ``attribute_names``).

There are no times: ``timestamp`` is the position in the user's sequence.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Unpack

import polars as pl

from recaug import columns as C
from recaug.data.dataset import Dataset
from recaug.data.io import convert
from recaug.data.io.convert import Where
from recaug.data.io.files import decode_utf8, read_bytes, require_file
from recaug.data.io.frames import to_dataset
from recaug.data.io.generic import read_delimited_table
from recaug.data.io.items import canonical_item_table, check_known_items, merge_item_tables, read_item_table
from recaug.data.io.lines import as_integers, read_lines, tokens
from recaug.data.io.options import Options, ReadOptions
from recaug.errors import DataError

log = logging.getLogger("recaug.data.io")


def read_s3rec(src: str | Path, **options: Unpack[ReadOptions]) -> Dataset:
    """Read a one-line-per-user sequence file and its side files (see the module docstring)."""
    started = time.perf_counter()
    opts = Options.of(options)
    path = require_file(src)
    tok = tokens(read_lines(path), opts.sep)
    short = tok.group_by("row").agg(pl.len().alias("n")).filter(pl.col("n") < 2)
    if short.height:
        row = int(short.get_column("row").min())
        raise DataError("line has a user id but no items", file=path, row=row, expected="user_id item_1 item_2 ...")
    tok = as_integers(tok, path, C.ITEM, "integer user and item ids")
    users = tok.filter(pl.col("pos") == 0).select("row", pl.col("value").alias(C.USER))
    frame = (
        tok.filter(pl.col("pos") > 0)
        .join(users, on="row", how="left", maintain_order="left")
        .select(pl.col(C.USER).cast(pl.Utf8), pl.col("value").cast(pl.Utf8).alias(C.ITEM))
    )
    repeated = users.get_column(C.USER).is_duplicated()
    if repeated.any():
        log.warning("%s: %d user id(s) occur on more than one line; their lines are concatenated",
                    path, int(users.filter(repeated).get_column(C.USER).n_unique()))
    known = frame.get_column(C.ITEM).unique()
    side = merge_item_tables([
        _attributes(path, known),
        _item_meta(path, known),
        read_item_table(opts.item_side) if opts.item_side is not None else None,
    ])
    dataset = to_dataset(frame, items=side, name=opts.dataset_name(path), source=path, started=started)
    dataset.time_kind = "position"  # no times in this format: timestamp is the position
    return dataset


def side_file(path: Path, suffix: str) -> Path:
    """``<dir>/<Name><suffix>`` for ``<dir>/<Name>.txt``."""
    return path.with_name(path.name.removesuffix(".txt") + suffix)


def _attributes(path: Path, known: pl.Series) -> pl.DataFrame | None:
    file = side_file(path, "_item2attributes.json")
    if not file.is_file():
        return None
    require_file(file, what="item2attributes file")
    try:
        mapping = json.loads(decode_utf8(read_bytes(file), file))
    except json.JSONDecodeError as exc:
        raise DataError(f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})",
                        file=file, expected='{"item_id": [attribute ids]}') from None
    if not isinstance(mapping, dict):
        raise DataError("not a JSON object", file=file, expected='{"item_id": [attribute ids]}')
    where = Where(file, 1)
    keys = convert.integers(pl.Series(C.ITEM, list(mapping), dtype=pl.Utf8), where, C.ITEM,
                            what="integer item ids as keys")
    try:
        values = pl.Series("attributes", list(mapping.values()), dtype=pl.List(pl.Int64), strict=True)
    except (TypeError, pl.exceptions.PolarsError):
        raise DataError("attribute lists must hold integers only", file=file, column="attributes",
                        expected='{"item_id": [attribute ids]}') from None
    table = pl.DataFrame([keys.cast(pl.Utf8).alias(C.ITEM), values])
    check_known_items(table, known, file, None)
    log.info("%s: attributes for %d items", file.name, table.height)
    return table


def _item_meta(path: Path, known: pl.Series) -> pl.DataFrame | None:
    file = side_file(path, "_item_meta.tsv")
    if not file.is_file():
        return None
    raw, _ = read_delimited_table(require_file(file, what="item meta file"), "\t")
    if "attributes" in raw.columns:
        raw = raw.rename({"attributes": "attribute_names"})
    table = canonical_item_table(raw, Where(file, 2))
    lists = [c for c in ("categories", "attribute_names") if c in table.columns]
    table = table.with_columns(pl.col(lists).str.split("|"))
    check_known_items(table, known, file, 2)
    log.info("%s: metadata for %d items", file.name, table.height)
    return table
