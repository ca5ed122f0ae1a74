"""benchmarks/completion_gate.py: a stricter gate keeps fewer rows; hits are counted on validation."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from conftest import random_split
from recaug import columns as C
from recaug.generate import get_synthesizer

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _gate_module():
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location("completion_gate", BENCH / "completion_gate.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    finally:
        sys.path.pop(0)
    return mod


def test_gate_rows_shrink_as_the_gate_rises():
    gate = _gate_module()
    split = random_split(0, 40, (3, 9), 30)
    synth = get_synthesizer("vae")(epochs=5, latent_dim=4, hidden_dims=[16], complete_temperature=0.0)
    synth.fit(split.train, item_space=30)
    valid = split.valid.frame.select(C.USER, C.ITEM)
    rows = gate.gate_rows(synth, split.train, valid, 3, 0, [0.0, 0.04, 0.06, 0.5])
    counts = [r["rows"] for r in rows]
    assert counts[0] == 3 * split.train.n_users  # no gate: k items for every user
    assert counts == sorted(counts, reverse=True) and counts[-1] < counts[0]
    assert all(r["valid_hit_rows"] <= r["rows"] for r in rows)
    synth.complete_min_prob = 0.0
    free = synth.complete(split.train, 3).frame
    assert rows[0]["valid_hit_rows"] == free.join(valid, on=[C.USER, C.ITEM], how="semi").height
