"""The expand stage never reads held-out data.

What is proved, and why this is the honest invariant:

1. Operations that only rearrange a user's own training items (Crop, Mask, Reorder, Slice,
   RepeatPad, TimeJitter and combinations) cannot emit an item the user did not have in train,
   so ``Split.assert_no_leakage`` must pass on their output: checked directly.
2. Correlated Insert/Substitute emit items the user never saw, drawn from an item-similarity
   model. Such an item can coincidentally equal the user's held-out item without any leak
   (the model learned "people who bought A bought B" from *other users'* training rows), so
   "no held-out item appears" is not a valid invariant for them. The honest invariants are:
   (a) the similarity model is fitted from ``split.train`` only (its fingerprint equals the
       train fingerprint, not that of train + held-out), and
   (b) the output is a function of the training data only: two datasets with identical
       training parts but different held-out items give bit-identical augmented rows, while
       fitting on data that includes the held-out part *does* change the output (so the check
       has power: if the augmenter read held-out data, (b) would fail).
   With held-out items that never occur in train (planted fresh codes), (a) implies they
   cannot be emitted at all, so ``assert_no_leakage`` passes for correlated ops too.

``expand_training`` is only ever handed ``train``, so on its own these checks could not fail;
each also runs the pipeline's expand stage, which is handed the whole split folder (valid and
test included), so a stage that fed held-out rows to the augmenter would fail them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl

from recaug import columns as C
from recaug.cli._flow import write_split
from recaug.data import Interactions, Sequences
from recaug.expand import (
    Augmenter,
    Compose,
    Crop,
    Insert,
    LengthAwarePolicy,
    Mask,
    Reorder,
    RepeatPad,
    Slice,
    Sometimes,
    Substitute,
    TimeJitter,
    expand_training,
    training_fingerprint,
)
from recaug.pipeline.config import ExpandConfig
from recaug.pipeline.stages import run_expand
from recaug.split import LeaveLastOut, Split


def make_data(held_out_offset: int = 0, n_users: int = 60, seed: int = 0) -> Interactions:
    """Users with 3..12 training-range items (codes 2..41) followed by two held-out items.

    The last two items of every user are fresh codes (>= 100 + offset) that occur nowhere else,
    so any appearance of them in augmented rows could only come from reading held-out data.
    """
    rng = np.random.default_rng(seed)
    users, items, times = [], [], []
    for u in range(n_users):
        history = list(rng.integers(2, 42, size=rng.integers(3, 13)))
        tail = [100 + held_out_offset + 2 * u, 101 + held_out_offset + 2 * u]
        for t, item in enumerate(history + tail):
            users.append(u)
            items.append(int(item))
            times.append(t)
    return Interactions.from_arrays(users, items, times)


def correlated_policy() -> LengthAwarePolicy:
    return LengthAwarePolicy(
        short=[Insert(0.4, top_k=3), Substitute(0.3, top_k=3)],
        long=[Insert(0.4), Crop(0.6), Mask(0.5), Reorder(0.4), Substitute(0.2)],
        threshold=5,
    )


def expand_stage(split: Split, policy: Augmenter, folder: Path, *, n_views: int, seed: int) -> pl.DataFrame:
    """What the pipeline's expand stage writes for ``split``: it gets the whole split folder."""
    write_split(split, folder / "split")
    (folder / "out").mkdir()
    config = ExpandConfig(policy=json.loads(json.dumps(policy.config())), n_views=n_views, min_length=1)
    run_expand(config, folder / "split", seed, folder / "out")
    provenance = json.loads((folder / "out" / "provenance.json").read_text())
    assert provenance["train_fingerprint"] == training_fingerprint(split.train)
    frame = pl.read_parquet(folder / "out" / "sequences.parquet")
    assert frame.height > 0
    return frame


def test_rearranging_ops_never_emit_held_out_items(tmp_path: Path) -> None:
    split = LeaveLastOut().split(make_data())
    train_pairs = set(zip(split.train.users.tolist(), split.train.items.tolist(), strict=True))
    op = Compose([Sometimes(Crop(0.6), p=0.7), Reorder(0.5), Mask(0.3), TimeJitter(1)])
    for aug in (op, Slice("prefix", max_len=5), RepeatPad(20)):
        expanded = expand_training(split.train, aug, n_views=3, seed=1)
        split.assert_no_leakage(expanded.to_interactions(), what=f"{aug.name} output")
        # the stage, which is handed the held-out parts too: a view holds its user's training items only
        views = expand_stage(split, aug, tmp_path / aug.name, n_views=3, seed=1)
        split.assert_no_leakage(views, what=f"expand stage {aug.name} output")
        assert set(zip(views[C.USER].to_list(), views[C.ITEM].to_list(), strict=True)) <= train_pairs


def test_correlated_ops_fit_on_train_only_and_emit_no_held_out_item(tmp_path: Path) -> None:
    split = LeaveLastOut().split(make_data())
    policy = correlated_policy()
    expanded = expand_training(split.train, policy, n_views=4, seed=0)
    split.assert_no_leakage(expanded.to_interactions(), what="correlated augmentation")
    train_print = training_fingerprint(split.train)
    everything = split.train.concat(split.valid).concat(split.test)
    assert expanded.provenance["train_fingerprint"] == train_print
    for op in policy.short.ops + policy.long.ops:  # type: ignore[union-attr]
        if hasattr(op, "similarity") and op.similarity is not None:
            assert op.similarity.fingerprint_ == train_print != training_fingerprint(everything)
            assert op.similarity.item_space_ <= 42  # never saw a held-out code
    assert (expanded.augmented().sequences.items < 42).all()
    # the stage (handed the held-out parts too) fits on train: its views never hold a held-out code
    views = expand_stage(split, correlated_policy(), tmp_path, n_views=4, seed=0)
    split.assert_no_leakage(views, what="expand stage correlated output")
    assert views[C.ITEM].max() < 42


def test_output_depends_on_train_only(tmp_path: Path) -> None:
    # same training rows, different held-out items
    a = LeaveLastOut().split(make_data(held_out_offset=0))
    b = LeaveLastOut().split(make_data(held_out_offset=1000))
    assert a.train.equals(b.train) and not a.test.equals(b.test)
    out_a = expand_training(a.train, correlated_policy(), n_views=2, seed=5)
    out_b = expand_training(b.train, correlated_policy(), n_views=2, seed=5)
    assert out_a.sequences.equals(out_b.sequences)
    # the stage is handed the held-out parts too: its output must not depend on them
    stage_a = expand_stage(a, correlated_policy(), tmp_path / "a", n_views=2, seed=5)
    stage_b = expand_stage(b, correlated_policy(), tmp_path / "b", n_views=2, seed=5)
    assert stage_a.equals(stage_b)

    # power of the check: an augmenter fitted on train + held-out behaves differently
    leaky = correlated_policy().fit(a.train.concat(a.valid).concat(a.test))
    honest = correlated_policy().fit(a.train)
    train_seqs = Sequences.from_interactions(a.train)
    leaky_rows = leaky.augment(train_seqs, n_views=2, seed=5)
    honest_rows = honest.augment(train_seqs, n_views=2, seed=5)
    assert not leaky_rows.equals(honest_rows)
