"""Property tests for every expand operation (hypothesis): shape, content and randomness contracts."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recaug import columns as C
from recaug.data import Sequences
from recaug.expand import (
    Compose,
    Crop,
    Insert,
    ItemSimilarity,
    LengthAwarePolicy,
    Mask,
    Noise,
    OneOf,
    Reorder,
    RepeatPad,
    Slice,
    Sometimes,
    Substitute,
    TimeJitter,
)

ITEM_SPACE = 40
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def sequences(draw, max_rows: int = 12, max_len: int = 30, with_time: bool | None = None) -> Sequences:
    """Random CSR batches: distinct users, lengths 0..max_len (0 and 1 included), real item codes."""
    rows = draw(st.lists(st.lists(st.integers(2, ITEM_SPACE - 1), max_size=max_len), max_size=max_rows))
    users = draw(st.lists(st.integers(0, 10_000), min_size=len(rows), max_size=len(rows), unique=True))
    seqs = Sequences.from_lists(rows, users)
    if with_time if with_time is not None else draw(st.booleans()):
        gaps = np.asarray(
            draw(st.lists(st.integers(0, 5), min_size=len(seqs.items), max_size=len(seqs.items)))
        )
        seqs = Sequences(
            seqs.offsets, seqs.items, seqs.users, np.cumsum(gaps, dtype=np.int64) if len(gaps) else gaps
        )
    return seqs


def _similarity() -> ItemSimilarity:
    rng = np.random.default_rng(0)
    rows = [list(rng.integers(2, ITEM_SPACE, size=rng.integers(2, 12))) for _ in range(60)]
    return ItemSimilarity("iuf", k=5).fit(Sequences.from_lists(rows))


SIM = _similarity()


def all_ops() -> dict[str, object]:
    return {
        "crop": Crop(0.6),
        "mask": Mask(0.3),
        "reorder": Reorder(0.5),
        "insert-random": Insert(0.3, mode="random", item_space=ITEM_SPACE),
        "insert-correlated": Insert(0.3, similarity=SIM, top_k=3),
        "substitute-random": Substitute(0.3, mode="random", item_space=ITEM_SPACE),
        "substitute-correlated": Substitute(0.3, similarity=SIM, top_k=2),
        "noise": Noise(0.3, item_space=ITEM_SPACE),
        "noise-insert": Noise(0.3, kind="insert", item_space=ITEM_SPACE),
        "slice": Slice("prefix", min_len=1, max_len=5, stride=2),
        "repeat_pad": RepeatPad(12),
        "time_jitter": TimeJitter(3),
        "compose": Compose([Crop(0.8), Mask(0.5)]),
        "one_of": OneOf([Crop(0.5), Reorder(0.5), Slice("suffix", min_len=2)], weights=[1, 2, 1]),
        "sometimes": Sometimes(Mask(0.5), p=0.5),
        "length_aware": LengthAwarePolicy(
            short=[Insert(0.3, similarity=SIM), Substitute(0.3, similarity=SIM)],
            long=[Crop(0.6), Mask(0.3), Reorder(0.6)],
            threshold=4,
        ),
    }


OPS = all_ops()


def is_contiguous_subsequence(part: list[int], whole: list[int]) -> bool:
    n = len(part)
    return any(whole[i : i + n] == part for i in range(len(whole) - n + 1))


@FAST
@given(sequences(), st.integers(0, 2**32), st.floats(0.0, 1.0))
def test_crop_never_lengthens_and_is_contiguous(seqs: Sequences, seed: int, eta: float) -> None:
    out = Crop(eta).augment(seqs, seed=seed)
    assert len(out) == len(seqs)
    for before, after in zip(seqs.to_lists(), out.to_lists(), strict=True):
        assert len(after) <= len(before)
        assert (len(after) >= 1) == (len(before) >= 1)
        assert is_contiguous_subsequence(after, before)


@FAST
@given(sequences(), st.integers(0, 2**32), st.floats(0.0, 1.0))
def test_reorder_keeps_multiset_length_and_changes_one_window(
    seqs: Sequences, seed: int, beta: float
) -> None:
    out = Reorder(beta).augment(seqs, seed=seed)
    assert np.array_equal(out.offsets, seqs.offsets)
    for before, after in zip(seqs.to_lists(), out.to_lists(), strict=True):
        assert sorted(before) == sorted(after)
        diff = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
        if diff:
            assert diff[-1] - diff[0] + 1 <= math.floor(beta * len(before) + 1e-9)
    if seqs.timestamps is not None:
        assert np.array_equal(out.timestamps, seqs.timestamps)


@FAST
@given(sequences(), st.integers(0, 2**32), st.floats(0.0, 1.0), st.sampled_from(["floor", "ceil"]))
def test_mask_changes_at_most_ceil_and_never_emits_pad(
    seqs: Sequences, seed: int, gamma: float, rounding: str
) -> None:
    out = Mask(gamma, rounding=rounding).augment(seqs, seed=seed)
    assert np.array_equal(out.offsets, seqs.offsets)
    assert not (out.items == C.PAD_ID).any()
    for before, after in zip(seqs.to_lists(), out.to_lists(), strict=True):
        changed = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
        assert len(changed) <= math.ceil(gamma * len(before))
        assert all(after[i] == C.MASK_ID for i in changed)
    if rounding == "floor":  # exactly floor(gamma * len) positions (the input has no MASK ids)
        n_masked = [sum(x == C.MASK_ID for x in row) for row in out.to_lists()]
        assert n_masked == np.floor(gamma * seqs.lengths + 1e-9).astype(int).tolist()


@FAST
@given(
    sequences(),
    st.integers(0, 2**32),
    st.sampled_from(
        [
            "insert-random",
            "insert-correlated",
            "substitute-random",
            "substitute-correlated",
            "noise",
            "noise-insert",
        ]
    ),
)
def test_insert_substitute_noise_emit_only_real_items(seqs: Sequences, seed: int, name: str) -> None:
    out = OPS[name].augment(seqs, n_views=2, seed=seed)
    assert ((out.items >= C.N_RESERVED) & (out.items < ITEM_SPACE)).all()
    lengths_in = np.repeat(seqs.lengths, 2)
    if name.startswith("substitute") or name == "noise":
        assert np.array_equal(out.lengths, lengths_in)
    if name.startswith("insert"):
        expected = np.where(lengths_in > 0, np.maximum(1, np.floor(0.3 * lengths_in + 1e-9)), 0) + lengths_in
        assert np.array_equal(out.lengths, expected)
    if name.startswith("substitute"):  # exactly the chosen positions may change
        for before, after in zip([r for r in seqs.to_lists() for _ in range(2)], out.to_lists(), strict=True):
            assert sum(a != b for a, b in zip(before, after, strict=True)) <= max(
                1, math.floor(0.3 * len(before) + 1e-9)
            )
    if out.timestamps is not None:  # inserted items never break time order
        for a, b in zip(out.offsets[:-1], out.offsets[1:], strict=True):
            assert (np.diff(out.timestamps[a:b]) >= 0).all()


@FAST
@given(sequences(with_time=True), st.integers(0, 2**32), st.integers(0, 50))
def test_time_jitter_keeps_items_and_time_order(seqs: Sequences, seed: int, shift: int) -> None:
    out = TimeJitter(shift).augment(seqs, seed=seed)
    assert np.array_equal(out.items, seqs.items) and np.array_equal(out.offsets, seqs.offsets)
    for a, b in zip(out.offsets[:-1], out.offsets[1:], strict=True):
        assert (np.diff(out.timestamps[a:b]) >= 0).all()


@FAST
@given(sequences(), st.integers(1, 20), st.integers(0, 3))
def test_repeat_pad_ends_with_original_and_fits(seqs: Sequences, max_len: int, gap: int) -> None:
    out = RepeatPad(max_len, gap=gap).augment(seqs)
    for before, after in zip(seqs.to_lists(), out.to_lists(), strict=True):
        assert after[len(after) - len(before) :] == before
        assert len(after) <= max(len(before), max_len)
        if 0 < len(before) < max_len:
            assert len(after) + len(before) + gap > max_len  # no room for one more copy


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sequences(max_rows=16), st.integers(0, 2**32), st.integers(1, 3), st.sampled_from(sorted(OPS)), st.data()
)
def test_results_do_not_depend_on_batch_split_or_order(
    seqs: Sequences, seed: int, n_views: int, name: str, data: st.DataObject
) -> None:
    op = OPS[name]
    whole = op.augment(seqs, n_views=n_views, seed=seed)
    cut = data.draw(st.integers(0, len(seqs)))
    a = op.augment(seqs.take(np.arange(cut)), n_views=n_views, seed=seed)
    b = op.augment(seqs.take(np.arange(cut, len(seqs))), n_views=n_views, seed=seed)
    assert whole.to_lists() == a.to_lists() + b.to_lists()
    assert list(whole.source) == list(a.source) + list(b.source)
    assert whole.users.tolist() == a.users.tolist() + b.users.tolist()
    # reversed row order gives the same rows per user
    rev = op.augment(seqs.take(np.arange(len(seqs))[::-1]), n_views=n_views, seed=seed)
    per_user = {}
    for u, row in zip(whole.users.tolist(), whole.to_lists(), strict=True):
        per_user.setdefault(u, []).append(row)
    per_user_rev = {}
    for u, row in zip(rev.users.tolist(), rev.to_lists(), strict=True):
        per_user_rev.setdefault(u, []).append(row)
    assert per_user == per_user_rev


@FAST
@given(sequences(), st.integers(0, 2**32), st.sampled_from(sorted(OPS)))
def test_same_seed_same_output_and_rows_keep_their_user(seqs: Sequences, seed: int, name: str) -> None:
    op = OPS[name]
    one, two = op.augment(seqs, n_views=2, seed=seed), op.augment(seqs, n_views=2, seed=seed)
    assert one.equals(two)
    assert set(one.users.tolist()) <= set(seqs.users.tolist())
    assert not (one.source == "").any()


NONTRIVIAL = Sequences.from_lists([list(range(2, 2 + n)) for n in range(5, 35)], users=list(range(30)))


@pytest.mark.parametrize("name", sorted(set(OPS) - {"slice", "repeat_pad", "time_jitter"}))
def test_different_seed_gives_different_output(name: str) -> None:
    op = OPS[name]
    assert op.augment(NONTRIVIAL, seed=1).to_lists() != op.augment(NONTRIVIAL, seed=2).to_lists()
    views = op.augment(NONTRIVIAL, n_views=2, seed=1).to_lists()
    assert views[0::2] != views[1::2]  # views of one user differ too


def test_time_jitter_seed_changes_timestamps() -> None:
    seqs = Sequences(
        NONTRIVIAL.offsets,
        NONTRIVIAL.items,
        NONTRIVIAL.users,
        np.arange(len(NONTRIVIAL.items), dtype=np.int64) * 100,
    )
    a, b = TimeJitter(10).augment(seqs, seed=1), TimeJitter(10).augment(seqs, seed=2)
    assert not np.array_equal(a.timestamps, b.timestamps)
