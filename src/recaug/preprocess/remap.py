"""``RemapIds``: compact the vocabulary after filtering, keeping original ids recoverable."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import polars as pl

from recaug import columns as C
from recaug.data.dataset import Dataset
from recaug.data.interactions import Interactions
from recaug.data.vocabulary import Vocabulary
from recaug.preprocess.base import Step


def _compact(codes: np.ndarray, space: int, offset: int) -> tuple[np.ndarray, np.ndarray]:
    """(present old codes in ascending order, lookup old code -> new code or -1)."""
    present = np.flatnonzero(np.bincount(codes, minlength=space)) if len(codes) else np.zeros(0, np.int64)
    present = present[present >= offset]
    lookup = np.full(space, -1, dtype=np.int32)
    lookup[present] = np.arange(len(present), dtype=np.int32) + offset
    return present, lookup


@dataclass(frozen=True)
class RemapIds(Step):
    """Drop users and items without interactions and give the rest dense codes again.

    Relative order is kept (so codes still follow the sorted original ids), item codes start
    at 2 (PAD/MASK stay reserved), the vocabulary keeps the original ids of the survivors and
    the item/user tables lose the rows of dropped ids. No interaction row is removed.
    """

    name: ClassVar[str] = "remap"

    def describe(self) -> str:
        return "remap: drop users/items without interactions, dense codes again (original ids kept)"

    def _apply(self, dataset: Dataset) -> tuple[Dataset, dict[str, int], dict[str, Any]]:
        vocab = dataset.vocab
        frame = dataset.interactions.frame
        users = frame.get_column(C.USER).to_numpy()
        items = frame.get_column(C.ITEM).to_numpy()
        u_present, u_lookup = _compact(users, vocab.n_users, 0)
        i_present, i_lookup = _compact(items, vocab.item_space, C.N_RESERVED)
        info = {
            "users_in": vocab.n_users, "users_out": len(u_present),
            "items_in": vocab.n_items, "items_out": len(i_present),
        }
        new_vocab = Vocabulary(vocab.users.gather(u_present), vocab.items.gather(i_present - C.N_RESERVED))
        new_frame = frame.with_columns(
            pl.Series(C.USER, u_lookup[users], dtype=pl.Int32),
            pl.Series(C.ITEM, i_lookup[items], dtype=pl.Int32),
        )

        def side(table: pl.DataFrame, col: str, lookup: np.ndarray) -> pl.DataFrame:
            old = table.get_column(col).to_numpy()
            ok = (old >= 0) & (old < len(lookup))
            new = np.full(len(old), -1, dtype=np.int32)
            new[ok] = lookup[old[ok]]
            return table.with_columns(pl.Series(col, new, dtype=pl.Int32)).filter(pl.col(col) >= 0)

        out = Dataset(
            Interactions(new_frame, sort=False),
            new_vocab,
            side(dataset.items, C.ITEM, i_lookup),
            side(dataset.users, C.USER, u_lookup),
            name=dataset.name,
            time_kind=dataset.time_kind,
        )
        return out, {}, info
