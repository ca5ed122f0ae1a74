"""``Sessionize``: cut each user's stream into sessions at gaps of inactivity."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import polars as pl

from recaug import columns as C
from recaug.data.dataset import Dataset
from recaug.data.interactions import Interactions
from recaug.data.vocabulary import Vocabulary
from recaug.errors import ConfigError
from recaug.preprocess.base import Step, time_sorted, with_frame

#: Column of the user table (``as_users=True``) holding the original id of the session's user.
PARENT_USER = "parent_user"


def session_starts(users: np.ndarray, timestamps: np.ndarray, gap_seconds: int) -> np.ndarray:
    """Boolean mask of rows that open a session (rows in (user, timestamp) order).

    A session opens at a user's first row and wherever the time since the previous row of
    the same user is strictly greater than ``gap_seconds``.
    """
    start = np.ones(len(users), dtype=bool)
    if len(users) > 1:
        start[1:] = (users[1:] != users[:-1]) | (np.diff(timestamps) > gap_seconds)
    return start


@dataclass(frozen=True)
class Sessionize(Step):
    """Add ``session_id`` (global, dense from 0 in (user, time) order).

    A new session starts when the gap to the user's previous interaction exceeds
    ``gap_seconds``. With ``as_users=True`` every session becomes its own "user" (the
    session-based setting): user codes are session ids, the vocabulary's original user id
    is ``"<user>#<k>"`` (k-th session of that user, from 0) and the user table gains a
    ``parent_user`` column with the original user id.
    """

    name: ClassVar[str] = "sessionize"

    gap_seconds: int = 1800
    as_users: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.gap_seconds, int | float) or self.gap_seconds < 0:
            raise ConfigError(f"sessionize: gap_seconds must be a number >= 0, got {self.gap_seconds!r}")

    def describe(self) -> str:
        tail = "; each session becomes a user" if self.as_users else ""
        return f"sessionize: new session after {self.gap_seconds:g} s of inactivity{tail}"

    def _apply(self, dataset: Dataset) -> tuple[Dataset, dict[str, int], dict[str, Any]]:
        frame = time_sorted(dataset.interactions.frame)
        users = frame.get_column(C.USER).to_numpy()
        start = session_starts(users, frame.get_column(C.TIME).to_numpy(), self.gap_seconds)
        session = np.cumsum(start, dtype=np.int64) - 1
        frame = frame.with_columns(pl.Series(C.SESSION, session, dtype=pl.Int64))
        n_sessions = int(start.sum())
        info = {"sessions": n_sessions}
        if not self.as_users:
            return with_frame(dataset, frame), {}, info
        # every session becomes a user: code = session id
        parent = users[start]  # old user code of each session, in session order
        first_of_user = np.r_[True, parent[1:] != parent[:-1]] if n_sessions else np.zeros(0, bool)
        k = np.arange(n_sessions) - np.maximum.accumulate(np.where(first_of_user, np.arange(n_sessions), 0))
        parent_original = dataset.vocab.decode_users(parent)
        originals = (parent_original + "#" + pl.Series(k).cast(pl.Utf8)).alias("original")
        vocab = Vocabulary(originals, dataset.vocab.items)
        frame = frame.with_columns(pl.col(C.SESSION).cast(pl.Int32).alias(C.USER))
        user_table = (
            pl.DataFrame({C.USER: np.arange(n_sessions, dtype=np.int32), "_old": parent.astype(np.int32)})
            .join(dataset.users.rename({C.USER: "_old"}), on="_old", how="left", maintain_order="left")
            .drop("_old")
            .with_columns(parent_original.alias(PARENT_USER))
        )
        out = Dataset(
            Interactions(frame, sort=False), vocab, dataset.items, user_table, name=dataset.name,
            time_kind=dataset.time_kind,
        )
        return out, {}, info
