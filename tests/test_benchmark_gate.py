"""recaug.generate.gate (what benchmarks/completion_gate.py prints): a stricter gate keeps fewer rows;
hits are counted on validation."""

from __future__ import annotations

from conftest import load_benchmark, random_split
from recaug import columns as C
from recaug.generate import get_synthesizer


def test_gate_rows_shrink_as_the_gate_rises():
    from recaug.generate.gate import gate_table

    assert load_benchmark("completion_gate").gate_table is gate_table  # the benchmark stays thin
    split = random_split(0, 40, (3, 9), 30)
    synth = get_synthesizer("vae")(epochs=5, latent_dim=4, hidden_dims=[16], complete_temperature=0.0)
    synth.fit(split.train, item_space=30)
    valid = split.valid.frame.select(C.USER, C.ITEM)
    synth.complete_min_prob = 0.02
    rows = gate_table(synth, split.train, valid, 3, seed=0, gates=[0.0, 0.04, 0.06, 0.5])
    assert synth.complete_min_prob == 0.02  # the caller's setting is put back
    counts = [r["rows"] for r in rows]
    assert counts[0] == 3 * split.train.n_users  # no gate: k items for every user
    assert counts == sorted(counts, reverse=True) and counts[-1] < counts[0]
    assert all(r["valid_hit_rows"] <= r["rows"] for r in rows)
    synth.complete_min_prob = 0.0
    free = synth.complete(split.train, 3).frame
    assert rows[0]["valid_hit_rows"] == free.join(valid, on=[C.USER, C.ITEM], how="semi").height
