"""Turn a raw table (any column names, original ids) into a ``Dataset``; ``from_pandas``/``from_polars``."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import polars as pl

from recaug import columns as C
from recaug.data.dataset import Dataset
from recaug.data.io import convert
from recaug.data.io.convert import Where
from recaug.data.io.files import check_unique_names
from recaug.data.io.options import Options
from recaug.data.io.schema import resolve_roles
from recaug.errors import DataError

log = logging.getLogger("recaug.data.io")

#: Item-level columns: they go to ``Dataset.items`` (first value per item), not the interactions.
ITEM_LEVEL = (C.CATEGORY, C.BRAND, C.PRICE, C.TITLE)


def canonical_frame(
    raw: pl.DataFrame,
    roles: dict[str, str],
    where: Where,
    *,
    integer_ids: bool = False,
) -> pl.DataFrame:
    """Select the role columns of ``raw``, rename them canonically and convert their types.

    Ids stay original strings (checked integers when ``integer_ids``); timestamps become
    int64 seconds. Rows are reordered only by exact time when sub-second order matters.
    """
    out: dict[str, pl.Series] = {}
    order_key = None
    for role, col in roles.items():
        values = raw.get_column(col)
        if role in (C.USER, C.ITEM):
            out[role] = convert.ids(values, where, col, integer=integer_ids)
        elif role == C.TIME:
            out[role], order_key = convert.timestamps(values, where, col)
        elif role in (C.RATING, C.PRICE):
            out[role] = convert.numbers(values, where, col)
        elif role == C.SESSION:
            out[role] = convert.integers(values, where, col, what="integer session ids")
        else:
            text = values.cast(pl.Utf8)
            out[role] = text.str.strip_chars() if role != C.QUERY else text
    frame = pl.DataFrame([s.alias(name) for name, s in out.items()])
    if order_key is not None:
        frame = frame.with_columns(order_key.alias("__order")).sort("__order", maintain_order=True).drop("__order")
    return frame


def to_dataset(
    frame: pl.DataFrame,
    *,
    items: pl.DataFrame | None = None,
    users: pl.DataFrame | None = None,
    name: str = "dataset",
    source: str | Path | None = None,
    started: float | None = None,
) -> Dataset:
    """Build the ``Dataset``: item-level columns of ``frame`` move to the item table; log a summary."""
    moved = [c for c in ITEM_LEVEL if c in frame.columns]
    if moved:
        per_item = frame.select(C.ITEM, *moved).filter(pl.any_horizontal(pl.col(moved).is_not_null()))
        per_item = per_item.unique(C.ITEM, keep="first", maintain_order=True)
        items = per_item if items is None else items.join(per_item, on=C.ITEM, how="full", coalesce=True)
        frame = frame.drop(moved)
    dataset = Dataset.from_frame(frame, items=items, users=users, name=name)
    took = f" in {time.perf_counter() - started:.2f} s" if started is not None else ""
    log.info(
        "read %s: %d interactions, %d users, %d items%s",
        source if source is not None else name,
        len(dataset.interactions),
        dataset.vocab.n_users,
        dataset.vocab.n_items,
        took,
    )
    return dataset


def refuse_synthetic_rows(source: pl.Series, *, file: Path | None, first_row: int) -> None:
    """Raise ``DataError`` when a ``source`` column marks rows as synthetic (not ``"real"``).

    A raw file is read as real data and then split: a fused file read that way would lose its
    provenance, and its synthetic rows could become validation or test items.
    """
    synthetic = (source.cast(pl.Utf8).fill_null(C.REAL) != C.REAL).arg_true()
    if len(synthetic):
        row = int(synthetic[0])
        raise DataError(
            f"{len(synthetic)} row(s) have a source other than {C.REAL!r} (first: {source[row]!r}); a raw "
            "file is read as real data and split, so synthetic rows could land in the test set",
            file=file,
            row=first_row + row,
            column=C.SOURCE,
            expected="real interactions only: split the real data, then fuse its train part "
            "(recaug run with a fuse stage, or recaug.fuse.Fuser)",
        )


def dataset_from_table(
    raw: pl.DataFrame,
    *,
    file: Path | None,
    first_row: int,
    requested: dict[str, str | None],
    integer_ids: bool = False,
    items: pl.DataFrame | None = None,
    name: str,
    started: float | None = None,
) -> Dataset:
    """Generic path: resolve role columns of ``raw`` (requested or guessed), convert, build."""
    check_unique_names(list(raw.columns), file)
    if raw.height == 0:
        raise DataError("no rows", file=file, expected="at least one row of data")
    roles = resolve_roles(requested, list(raw.columns), file=file)
    ignored = [c for c in raw.columns if c not in roles.values()]
    if C.SOURCE in ignored:
        refuse_synthetic_rows(raw.get_column(C.SOURCE), file=file, first_row=first_row)
    if ignored:
        log.info("%s: ignoring column(s) %s", file or name, ignored)
    frame = canonical_frame(raw, roles, Where(file, first_row), integer_ids=integer_ids)
    return to_dataset(frame, items=items, name=name, source=file, started=started)


def from_polars(
    df: pl.DataFrame,
    *,
    user_col: str | None = None,
    item_col: str | None = None,
    time_col: str | None = None,
    event_col: str | None = None,
    category_col: str | None = None,
    rating_col: str | None = None,
    query_col: str | None = None,
    name: str = "dataset",
) -> Dataset:
    """A ``Dataset`` from an in-memory Polars frame; columns are guessed when not named.

    Errors name the 0-based row index of the frame.
    """
    if not isinstance(df, pl.DataFrame):
        raise DataError(f"expected a polars DataFrame, got {type(df).__name__}")
    requested = Options(
        user_col=user_col, item_col=item_col, time_col=time_col, event_col=event_col,
        category_col=category_col, rating_col=rating_col, query_col=query_col,
    ).requested()
    return dataset_from_table(df, file=None, first_row=0, requested=requested, name=name,
                              started=time.perf_counter())


def from_pandas(
    df: Any,
    *,
    user_col: str | None = None,
    item_col: str | None = None,
    time_col: str | None = None,
    event_col: str | None = None,
    category_col: str | None = None,
    rating_col: str | None = None,
    query_col: str | None = None,
    name: str = "dataset",
) -> Dataset:
    """A ``Dataset`` from an in-memory pandas frame (the index is ignored); see :func:`from_polars`."""
    names = [str(c) for c in df.columns]
    check_unique_names(names, None)
    try:
        frame = pl.from_pandas(df.reset_index(drop=True))
    except Exception as exc:  # pyarrow / polars conversion errors of many types
        raise DataError(f"cannot convert the pandas frame: {exc}") from None
    return from_polars(
        frame, user_col=user_col, item_col=item_col, time_col=time_col, event_col=event_col,
        category_col=category_col, rating_col=rating_col, query_col=query_col, name=name,
    )
