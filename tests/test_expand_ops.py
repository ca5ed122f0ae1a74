"""Unit tests of the expand stage: exact small cases, configs, errors, statistics, offline/online helpers."""

from __future__ import annotations

import numpy as np
import pytest

from recaug import columns as C
from recaug.data import Interactions, Sequences
from recaug.errors import ConfigError, NotFittedError
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
    _streams,
    augment_padded,
    available,
    expand_training,
    from_config,
    from_padded,
)
from recaug.random import hash_uniform


def seqs_of(rows: list[list[int]], users: list[int] | None = None) -> Sequences:
    return Sequences.from_lists(rows, users)


def test_streams_match_hash_uniform() -> None:
    keys = _streams.stream_keys(np.array([0, 5, 7]), np.array([0, 1, 2]))
    state = _streams.row_state(42, keys)
    expected = hash_uniform(42, keys, 3 * 2**32 + 0)
    assert np.array_equal(_streams.row_uniform(state, 3, 0), expected)
    pos = np.array([0, 4, 9])
    got = _streams.position_uniform(state, np.arange(3), pos, 1)
    assert np.array_equal(got, hash_uniform(42, keys, 2**32 + pos))


def test_slice_kinds_exact() -> None:
    s = seqs_of([[2, 3, 4, 5], [6], [7, 8]])
    assert Slice("prefix").augment(s).to_lists() == [[2, 3, 4, 5], [2, 3, 4], [2, 3], [7, 8]]
    assert Slice("prefix", max_len=2).augment(s).to_lists() == [[4, 5], [3, 4], [2, 3], [7, 8]]
    assert Slice("suffix", min_len=3).augment(s).to_lists() == [[2, 3, 4, 5], [3, 4, 5]]
    assert Slice("window", max_len=3, min_len=1).augment(s).to_lists() == [[3, 4, 5], [2, 3, 4], [6], [7, 8]]
    out = Slice("prefix", stride=2).augment(s)
    assert out.to_lists() == [[2, 3, 4, 5], [2, 3], [7, 8]]
    assert out.users.tolist() == [0, 0, 2] and set(out.source) == {"slice"}


def test_repeat_pad_exact_and_timestamps() -> None:
    s = Sequences(
        np.array([0, 2, 6]), np.array([2, 3, 4, 5, 6, 7]), np.array([0, 1]), np.array([10, 20, 1, 2, 3, 4])
    )
    out = RepeatPad(7, gap=1).augment(s)
    assert out.to_lists() == [[2, 3, 0, 2, 3], [4, 5, 6, 7]]
    assert out.timestamps[:5].tolist() == [10, 10, 10, 10, 20]
    assert RepeatPad(7, gap=0).augment(s).to_lists()[0] == [2, 3, 2, 3, 2, 3]
    assert RepeatPad(7, gap=0, max_repeats=2).augment(s).to_lists()[0] == [2, 3, 2, 3]


def test_mask_positions_are_uniform() -> None:
    n = 4000
    s = seqs_of([[2, 3, 4, 5, 6]] * n, list(range(n)))
    out = Mask(0.4).augment(s, seed=3)
    freq = (out.items.reshape(n, 5) == C.MASK_ID).mean(axis=0)
    assert np.allclose(freq, 0.4, atol=0.035)  # each position masked 40% of the time


def test_mask_long_rows_use_the_sort_path_too() -> None:
    s = seqs_of([list(range(2, 602))] * 3, [0, 1, 2])
    out = Mask(0.5).augment(s, seed=1)
    assert ((out.items == C.MASK_ID).reshape(3, -1).sum(axis=1) == 300).all()
    r = Reorder(0.5).augment(s, seed=1)
    assert all(sorted(x) == list(range(2, 602)) for x in r.to_lists())
    assert r.to_lists()[0] != list(range(2, 602))


def test_reorder_permutations_are_uniform() -> None:
    n = 6000
    s = seqs_of([[2, 3, 4]] * n, list(range(n)))
    rows = Reorder(1.0).augment(s, seed=0).items.reshape(n, 3)
    _, counts = np.unique(rows, axis=0, return_counts=True)
    assert len(counts) == 6 and counts.min() > n / 6 * 0.85


def test_mask_never_touches_pad_inside_rows() -> None:
    s = RepeatPad(9).augment(seqs_of([[2, 3], [4]]))
    out = Mask(0.9, rounding="ceil").augment(s, seed=0)
    assert ((out.items == C.PAD_ID) == (s.items == C.PAD_ID)).all()


def test_similarity_topk_on_hand_data() -> None:
    train = seqs_of([[2, 3, 4], [2, 3], [2, 3], [5, 6]])
    sim = ItemSimilarity("cooccurrence", k=2).fit(train)
    assert sim.neighbours_[2].tolist() == [3, 4] and sim.scores_[2].tolist() == [3.0, 1.0]
    assert sim.neighbours_[5].tolist() == [6, 0]  # fewer neighbours than k -> PAD
    assert sim.neighbours_[C.PAD_ID].tolist() == [0, 0]  # reserved ids have no neighbours
    cos = ItemSimilarity("cosine", k=1).fit(train)
    assert cos.neighbours_[4].tolist() == [2]  # 2 and 3 tie; the lower code wins
    assert np.isclose(cos.scores_[5, 0], 1.0)


def test_similarity_save_load_round_trip(tmp_path) -> None:
    sim = ItemSimilarity("cooccurrence", k=2).fit(seqs_of([[2, 3, 4], [2, 3], [5, 6]]))
    sim.save(tmp_path / "sim")
    assert sorted(p.name for p in (tmp_path / "sim").iterdir()) == ["config.json", "neighbours.npy", "scores.npy"]
    again = ItemSimilarity.load(tmp_path / "sim")
    assert np.array_equal(again.neighbours_, sim.neighbours_) and np.array_equal(again.scores_, sim.scores_)
    assert again.fingerprint_ == sim.fingerprint_


def test_correlated_substitute_uses_neighbours() -> None:
    train = seqs_of([[2, 3], [2, 3], [4, 5]])
    op = Substitute(1.0, top_k=1).fit(train)
    assert op.augment(seqs_of([[2, 4]])).to_lists() == [[3, 5]]
    op2 = Insert(0.5, top_k=1).fit(train)
    assert op2.augment(seqs_of([[2]])).to_lists() == [[3, 2]]


def test_not_fitted_errors() -> None:
    s = seqs_of([[2, 3]])
    with pytest.raises(NotFittedError):
        Substitute(0.5).augment(s)
    with pytest.raises(NotFittedError):
        Noise(0.5).augment(s)
    with pytest.raises(NotFittedError):
        Compose([Crop(), Insert(0.2)]).augment(s)
    assert Noise(0.5).fit(s).augment(s).items.max() <= 3
    assert Crop().fit(s).augment(s) is not None  # needs no fit but accepts it


def test_config_round_trip_and_errors() -> None:
    config = {
        "op": "length_aware",
        "threshold": 3,
        "short": [
            {"op": "insert", "rate": 0.2, "similarity": {"method": "cosine", "k": 5, "item_space": None}}
        ],
        "long": [{"op": "crop", "eta": 0.5}, {"op": "sometimes", "p": 0.3, "augmenter": {"op": "mask"}}],
    }
    aug = from_config(config)
    assert isinstance(aug, LengthAwarePolicy) and isinstance(aug.long, OneOf)
    again = from_config(aug.config())
    assert again.config() == aug.config()
    assert "Crop" in aug.describe() and "Insert" in aug.describe()
    with pytest.raises(ConfigError, match="'cropp'"):
        from_config({"op": "cropp"})
    with pytest.raises(ConfigError, match="'gama'"):
        from_config({"op": "mask", "gama": 0.3})
    with pytest.raises(ConfigError, match="eta"):
        Crop(1.5)
    with pytest.raises(ConfigError):
        from_config({"op": "compose", "ops": [{"op": "nope"}]})
    assert {
        "crop",
        "mask",
        "reorder",
        "insert",
        "substitute",
        "noise",
        "slice",
        "repeat_pad",
        "time_jitter",
        "compose",
        "one_of",
        "sometimes",
        "length_aware",
    } <= set(available())


def test_source_tags_of_combinators() -> None:
    s = seqs_of([list(range(2, 12))] * 50, list(range(50)))
    out = Compose([Crop(0.8), Sometimes(Mask(0.5), p=0.5)]).augment(s, seed=0)
    assert set(out.source) == {"crop", "crop+mask"}
    out = Sometimes(Crop(0.5), p=0.5).augment(s, seed=0)
    assert set(out.source) == {"crop", "identity"}
    identity_rows = out.source == "identity"
    assert (out.lengths[identity_rows] == 10).all()
    policy = LengthAwarePolicy(short=Reorder(1.0), long=Crop(0.5), threshold=3)
    out = policy.augment(seqs_of([[2, 3], list(range(2, 12))]))
    assert out.source.tolist() == ["reorder", "crop"]


def test_one_of_weights() -> None:
    s = seqs_of([[2, 3, 4, 5]] * 3000, list(range(3000)))
    out = OneOf([Crop(0.5), Mask(0.5)], weights=[3, 1]).augment(s, seed=0)
    share = (out.source == "crop").mean()
    assert 0.72 < share < 0.78


def test_time_jitter_without_timestamps_is_identity() -> None:
    s = seqs_of([[2, 3]])
    assert TimeJitter(5).augment(s).to_lists() == [[2, 3]]


def test_expand_training_provenance() -> None:
    train = Interactions.from_arrays([0, 0, 0, 1, 1, 2], [2, 3, 4, 5, 6, 7], [1, 2, 3, 1, 2, 1])
    out = expand_training(train, Compose([Crop(0.5), Mask(0.5)]), n_views=2, seed=0)
    assert len(out) == 9
    assert out.view.tolist() == [0, 1, 2] * 3
    assert out.origin.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert out.sequences.source.tolist()[:3] == ["real", "crop+mask", "crop+mask"]
    assert out.originals().sequences.to_lists() == [[2, 3, 4], [5, 6], [7]]
    long = out.to_interactions()
    assert C.SESSION in long.columns and long.frame[C.SESSION].n_unique() == 9
    assert out.provenance["n_views"] == 2 and out.provenance["augmenter"]["op"] == "compose"
    again = expand_training(train, Compose([Crop(0.5), Mask(0.5)]), n_views=2, seed=0)
    assert again.sequences.equals(out.sequences)
    sliced = expand_training(train, Slice("prefix"), keep_original=False)
    assert sliced.sequences.to_lists() == [[2, 3, 4], [2, 3], [5, 6]] and sliced.origin.tolist() == [0, 0, 1]


def test_padded_round_trip_and_online_augment() -> None:
    batch = np.array([[0, 0, 2, 3], [4, 5, 6, 7], [0, 0, 0, 0], [0, 8, 0, 9]])
    s = from_padded(batch, users=[10, 11, 12, 13])
    assert s.to_lists() == [[2, 3], [4, 5, 6, 7], [], [8, 0, 9]]
    assert np.array_equal(s.to_padded(4), batch)
    right = from_padded(np.array([[2, 3, 0, 0]]), side="right")
    assert right.to_lists() == [[2, 3]]
    out = augment_padded(Mask(0.5), batch, seed=1, users=[10, 11, 12, 13], n_views=2)
    assert out.shape == (8, 4)
    assert ((out == C.PAD_ID) == (np.repeat(batch, 2, axis=0) == C.PAD_ID)).all()
    same = augment_padded(Mask(0.5), batch[1:2], seed=1, users=[11], n_views=2)
    assert np.array_equal(same, out[2:4])  # a row's views do not depend on the batch around it
