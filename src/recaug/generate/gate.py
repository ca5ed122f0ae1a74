"""How sure is a synthesizer of its completions? Validation hits per probability gate.

``complete_min_prob=p`` keeps only completion items the synthesizer gives at least probability
``p``. Completions help the users whose next item the synthesizer already predicts and hurt the
others, so a good gate keeps the hits while dropping most rows. :func:`gate_table` measures that
on **validation** items only (tuning may read validation, never test), for a gate chosen
without test data (``benchmarks/completion_gate.py`` prints it for the shared datasets).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from recaug import columns as C
from recaug.data.interactions import Interactions
from recaug.generate.base import Synthesizer

#: the gates tried when none are given
DEFAULT_GATES = (0.0, 0.01, 0.02, 0.03, 0.05, 0.08)


def gate_table(
    synth: Synthesizer,
    histories: Interactions,
    valid: pl.DataFrame,
    k: int,
    *,
    seed: int = 0,
    gates: Sequence[float] = DEFAULT_GATES,
) -> list[dict[str, Any]]:
    """One row per gate: completion rows, users completed, rows that are a validation item.

    ``valid`` holds ``(user_id, item_id)`` validation pairs. The fitted model is not changed and
    the synthesizer's own ``complete_min_prob`` is put back afterwards.
    """
    pairs = valid.select(C.USER, C.ITEM)
    before = getattr(synth, "complete_min_prob", None)
    out = []
    try:
        for gate in gates:
            synth.complete_min_prob = float(gate)  # type: ignore[attr-defined]  # the fitted model stays the same
            rows = synth.complete(histories, k, seed=seed).frame
            hits = rows.join(pairs, on=[C.USER, C.ITEM], how="semi")
            out.append({
                "gate": float(gate), "rows": rows.height, "users": rows.get_column(C.USER).n_unique(),
                "valid_hit_rows": hits.height, "valid_precision": hits.height / rows.height if rows.height else None,
            })  # fmt: skip
    finally:
        if before is None:
            del synth.complete_min_prob  # type: ignore[attr-defined]
        else:
            synth.complete_min_prob = before  # type: ignore[attr-defined]
    return out
