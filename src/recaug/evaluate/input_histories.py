"""Test-time input that differs from the history the ranking masks.

The evaluator gives a model ``split.history(target)`` as input *and* masks those items out of
the ranking. After augmentation the two must be kept apart. A user's completed history (the
real items plus synthetic ones) may be a fair *input* at test time: it was made from training
data only. But it must not be the *mask*: held-out hits are dropped from the synthetic rows, so
every synthetic item left is known not to be the user's held-out item, and masking them takes
the model's strongest wrong guesses out of the ranking with knowledge of the test set. On
Beauty that alone raised an untouched control's NDCG@10 (see ``benchmarks/README.md``).

:class:`WithInputHistories` wraps a model so that the evaluator masks the real history while
the model reads another history of the same user (test-time completion)::

    model_in = WithInputHistories(model, held_out_histories(completed_split, "test")[0])
    Evaluator().evaluate(model_in, split, "test")   # input: completed; masked: real only
"""

from __future__ import annotations

from typing import Any

import numpy as np

from recaug.data.csr import concat
from recaug.data.sequences import Sequences
from recaug.errors import DataError


class WithInputHistories:
    """A model whose ``score`` reads ``inputs``' row of each asked user instead of the given row.

    ``inputs`` holds one row per user (any order, unique users). A user asked for but absent
    from ``inputs`` is scored on the history it was given (nothing was added for it).
    """

    def __init__(self, model: object, inputs: Sequences) -> None:
        users = np.asarray(inputs.users, dtype=np.int64)
        if len(np.unique(users)) != len(users):
            raise DataError("input histories must have one row per user; some users repeat")
        self.model = model
        self.inputs = inputs
        self._order = np.argsort(users, kind="stable")
        self._sorted_users = users[self._order]

    def score(self, histories: Sequences) -> Any:
        """Scores of the model given each user's row of ``inputs`` (or ``histories`` if none).

        Returns whatever the wrapped model's ``score`` returns (a torch tensor for recaug's models);
        this wrapper never imports torch itself.
        """
        asked = np.asarray(histories.users, dtype=np.int64)
        pos = np.searchsorted(self._sorted_users, asked)
        pos_ok = np.minimum(pos, max(len(self._sorted_users) - 1, 0))
        found = (pos < len(self._sorted_users)) & (self._sorted_users[pos_ok] == asked)
        if not found.any():
            return self.model.score(histories)  # type: ignore[attr-defined]
        taken = self.inputs.take(self._order[pos_ok[found]])
        if found.all():
            return self.model.score(taken)  # type: ignore[attr-defined]
        rows = np.where(found, np.cumsum(found) - 1, len(taken) + np.arange(len(asked)))
        return self.model.score(concat([taken, histories]).take(rows))  # type: ignore[attr-defined]
