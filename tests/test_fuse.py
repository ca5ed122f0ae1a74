"""Fuser: ratio, quota, weight, de-duplication, placement, leakage guard, determinism; consistency filter."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from recaug import columns as C
from recaug.data import Interactions
from recaug.errors import ConfigError, DataError, LeakageError
from recaug.fuse import (
    DEFAULT_HELD_OUT_HITS,
    ConsistencyFilter,
    Fuser,
    FuseReport,
    check_item_codes,
    fuse,
    held_out_hits_kept,
)
from recaug.split import LeaveLastOut, Split


@pytest.fixture
def split() -> Split:
    """u0: train 2,3,4 (t 10-12), valid 5, test 6; u1: train 7, valid 8, test 9; u2: train 2..7, valid 8, test 9."""
    users = [0] * 5 + [1] * 3 + [2] * 8
    items = [2, 3, 4, 5, 6] + [7, 8, 9] + [2, 3, 4, 5, 6, 7, 8, 9]
    ts = list(range(10, 15)) + list(range(20, 23)) + list(range(30, 38))
    return LeaveLastOut().split(Interactions.from_arrays(users, items, ts))


def synth(
    users: list[int], items: list[int], ts: list[int] | None = None, source: str = "gen"
) -> Interactions:
    return Interactions.from_arrays(users, items, ts, source=np.full(len(users), source))


@pytest.fixture
def synthetic() -> Interactions:
    """u0 (existing): 10, 11, 3 (3 repeats a train pair); u1 (existing): 12, 12, 13;
    u100 (new): 20..23; u101 (new): 24, 25."""
    return synth(
        [0, 0, 0, 1, 1, 1, 100, 100, 100, 100, 101, 101],
        [10, 11, 3, 12, 12, 13, 20, 21, 22, 23, 24, 25],
        [0, 1, 2, 0, 1, 2, 0, 1, 2, 3, 0, 1],
    )


def test_dedup_counts_and_report(split: Split, synthetic: Interactions) -> None:
    fused, report = Fuser().fuse(split.train, synthetic, split=split)
    assert isinstance(report, FuseReport)
    assert report.rows_in == {"gen": 12, "real": 10}
    assert report.dropped == {"duplicate_of_real": 1, "duplicate_within_synthetic": 1}
    assert report.rows_out == {"gen": 10, "real": 10}
    assert len(fused) == 20
    assert (report.users_extended, report.users_new) == (2, 2)
    assert report.synthetic_in == 12 and report.synthetic_out == 10
    assert "duplicate_of_real" in report.to_markdown()
    assert report.to_dict()["settings"]["placement"] == "prepend"
    # no synthetic pair duplicates a real pair of the same user, nor another synthetic pair
    syn = fused.frame.filter(pl.col(C.SOURCE) != C.REAL)
    assert syn.join(split.train.pairs(), on=[C.USER, C.ITEM], how="semi").height == 0
    assert syn.select(C.USER, C.ITEM).is_duplicated().sum() == 0


def test_input_unchanged_and_real_rows_recovered(split: Split, synthetic: Interactions) -> None:
    train_before, synth_before = split.train.frame.clone(), synthetic.frame.clone()
    fused, _ = Fuser().fuse(split.train, synthetic, split=split)
    assert split.train.frame.equals(train_before)
    assert synthetic.frame.equals(synth_before)
    assert fused.real() == split.train
    assert fused.columns == split.train.columns


def test_weight_column(split: Split, synthetic: Interactions) -> None:
    fused, _ = Fuser(weight=0.25).fuse(split.train, synthetic)
    f = fused.frame
    assert f.filter(pl.col(C.SOURCE) == C.REAL).get_column(C.WEIGHT).to_list() == [1.0] * 10
    assert set(f.filter(pl.col(C.SOURCE) != C.REAL).get_column(C.WEIGHT).to_list()) == {0.25}
    assert fused.real().frame.drop(C.WEIGHT).equals(split.train.frame)


def test_prepend_places_completions_before_history(split: Split, synthetic: Interactions) -> None:
    fused, _ = Fuser().fuse(split.train, synthetic, split=split)
    f = fused.frame.filter(pl.col(C.SOURCE) != C.REAL)
    u0 = f.filter(pl.col(C.USER) == 0)
    assert u0.get_column(C.ITEM).to_list() == [10, 11]  # relative order kept
    assert u0.get_column(C.TIME).to_list() == [8, 9]  # first train timestamp is 10
    u1 = f.filter(pl.col(C.USER) == 1)
    assert u1.get_column(C.TIME).to_list() == [18, 19]
    # new users keep their own timestamps
    assert f.filter(pl.col(C.USER) == 100).get_column(C.TIME).to_list() == [0, 1, 2, 3]
    # the fused sequence of u0 is synthetic first, then the real history
    seq = fused.frame.filter(pl.col(C.USER) == 0).get_column(C.ITEM).to_list()
    assert seq == [10, 11, 2, 3, 4]


def test_keep_placement_refuses_rows_after_train_end(split: Split) -> None:
    ok = synth([0, 0], [10, 11], [10, 12])  # u0 train ends at 12
    fused, _ = Fuser(placement="keep").fuse(split.train, ok, split=split)
    assert fused.frame.filter(pl.col(C.SOURCE) != C.REAL).get_column(C.TIME).to_list() == [10, 12]
    late = synth([0], [10], [13])
    with pytest.raises(LeakageError, match="after the user's last training"):
        Fuser(placement="keep").fuse(split.train, late, split=split)


def test_segment_quota(split: Split, synthetic: Interactions) -> None:
    # u0 has 3 training rows, u1 has 1, u2 has 6; new users count as 0
    _, report = Fuser(only_users_with_at_most=2).fuse(split.train, synthetic)
    assert report.dropped["user_not_in_segment"] == 2  # u0's 2 remaining rows
    assert report.rows_out["gen"] == 8
    _, report = Fuser(only_users_with_at_most=2, allow_new_users=False).fuse(split.train, synthetic)
    assert report.dropped["new_user_not_allowed"] == 6
    assert report.rows_out["gen"] == 2 and report.users_new == 0 and report.users_extended == 1


def test_max_rows_per_user_keeps_last(split: Split, synthetic: Interactions) -> None:
    fused, report = Fuser(max_rows_per_user=1).fuse(split.train, synthetic)
    assert report.dropped["over_max_rows_per_user"] == 10 - 4
    syn = fused.frame.filter(pl.col(C.SOURCE) != C.REAL).sort(C.USER)
    assert syn.get_column(C.ITEM).to_list() == [11, 13, 23, 25]
    # a cap above some users' row counts keeps those users whole
    _, report = Fuser(max_rows_per_user=3).fuse(split.train, synthetic)
    assert report.dropped["over_max_rows_per_user"] == 1 and report.rows_out["gen"] == 9


def test_ratio_takes_whole_users_exactly() -> None:
    train = Interactions.from_arrays(np.arange(10), np.arange(2, 12))  # 10 real rows
    syn = synth(np.repeat(np.arange(100, 120), 2).tolist(), list(range(20, 60)))  # 20 users x 2 rows
    for ratio, rows in ((1.0, 10), (0.5, 4), (0.0, 0), (10.0, 40)):
        fused, report = Fuser(ratio=ratio, seed=3).fuse(train, syn)
        assert report.rows_out.get("gen", 0) == rows
        assert report.dropped["over_ratio"] == 40 - rows
        counts = fused.frame.filter(pl.col(C.SOURCE) != C.REAL).group_by(C.USER).len()
        assert (counts.get_column("len") == 2).all()  # whole users only


def test_ratio_deterministic_under_seed() -> None:
    train = Interactions.from_arrays(np.arange(10), np.arange(2, 12))
    syn = synth(np.repeat(np.arange(100, 160), 2).tolist(), list(range(20, 140)))

    def kept(seed: int) -> list[int]:
        fused, _ = Fuser(ratio=1.0, seed=seed).fuse(train, syn)
        return fused.frame.filter(pl.col(C.SOURCE) != C.REAL).get_column(C.USER).unique().sort().to_list()

    assert kept(1) == kept(1)
    assert kept(1) != kept(2)
    a, _ = fuse(train, syn, ratio=1.0, seed=5)
    b, _ = fuse(train, syn, ratio=1.0, seed=5)
    assert a == b


def test_leakage_assertion(split: Split, synthetic: Interactions) -> None:
    strict = Fuser(held_out_hits="error")
    strict.fuse(split.train, synthetic, split=split)  # clean: passes
    for held_item in (5, 6):  # u0's valid and test items
        leak = synthetic.concat(synth([0], [held_item], [5]))
        with pytest.raises(LeakageError):
            strict.fuse(split.train, leak, split=split)
        # checked before any filtering: a ratio that would drop everything still fails
        with pytest.raises(LeakageError):
            Fuser(ratio=0.0, held_out_hits="error").fuse(split.train, leak, split=split)
    # a new synthetic user may hold any item
    strict.fuse(split.train, synthetic.concat(synth([100], [6], [9])), split=split)


def test_held_out_hits_can_be_dropped_and_are_counted(split: Split, synthetic: Interactions) -> None:
    leak = synthetic.concat(synth([0, 0], [5, 6], [5, 6]))
    fused, report = Fuser(held_out_hits="drop").fuse(split.train, leak, split=split)
    assert report.dropped["held_out_hit"] == 2
    split.assert_no_leakage(fused, what="fused rows")
    clean, _ = Fuser(held_out_hits="drop").fuse(split.train, synthetic, split=split)
    assert fused == clean
    with pytest.raises(ConfigError):
        Fuser(held_out_hits="ignore")


class _HeldOutRaises:
    """A split whose train is readable but whose held-out parts raise when touched (a spy)."""

    def __init__(self, split: Split) -> None:
        self.train = split.train
        self.protocol = split.protocol

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"the fuser read split.{name} in keep mode")


def test_keep_is_the_default_and_never_reads_held_out_data(split: Split, synthetic: Interactions) -> None:
    assert Fuser().held_out_hits == "keep" == DEFAULT_HELD_OUT_HITS
    spy = _HeldOutRaises(split)
    with pytest.raises(AssertionError, match="read split.valid"):
        spy.valid  # noqa: B018  (the spy works)
    leak = synthetic.concat(synth([0, 0], [5, 6], [5, 6]))  # u0's valid and test items, guessed
    fused, report = Fuser().fuse(split.train, leak, split=spy)  # type: ignore[arg-type]
    assert "held_out_hit" not in report.dropped and report.settings["held_out_hits"] == "keep"
    # the guesses are fused like any other synthetic row; the result equals a fusion without split
    kept = fused.frame.filter(pl.col(C.SOURCE) != C.REAL)
    assert kept.filter((pl.col(C.USER) == 0) & pl.col(C.ITEM).is_in([5, 6])).height == 2
    assert fused == Fuser().fuse(split.train, leak)[0]
    assert held_out_hits_kept(fused, split) == 2  # diagnostic, after the decision
    # the leakage check on fused data skips synthetic rows but still rejects real held-out rows
    split.assert_no_leakage(fused, what="fused rows", real_only=True)
    with pytest.raises(LeakageError):
        split.assert_no_leakage(fused, what="fused rows")
    real_leak = Interactions(pl.concat([fused.frame, split.test.frame.filter(pl.col(C.USER) == 0)]))
    with pytest.raises(LeakageError):
        split.assert_no_leakage(real_leak, what="fused rows", real_only=True)


def test_diagnostic_modes_still_read_held_out_data(split: Split, synthetic: Interactions) -> None:
    spy = _HeldOutRaises(split)
    for mode in ("drop", "error"):
        with pytest.raises(AssertionError, match="read split"):
            Fuser(held_out_hits=mode).fuse(split.train, synthetic, split=spy)  # type: ignore[arg-type]
    guess = synthetic.concat(synth([0], [6], [9]))
    _, report = Fuser(held_out_hits="drop").fuse(split.train, guess, split=split)
    assert report.dropped["held_out_hit"] == 1
    assert "diagnostic: decided with held-out labels" in report.to_markdown()
    report.diagnostics["held_out_hits_kept"] = 0
    assert "held_out_hits_kept: 0" in report.to_markdown() and report.to_dict()["diagnostics"] == {
        "held_out_hits_kept": 0
    }


def test_defaults_are_one_object() -> None:
    """Python, YAML and CLI defaults are the object declared in fuse/ (checked with a distinct copy of it)."""
    import subprocess
    import sys
    from dataclasses import fields

    from recaug.fuse import HELD_OUT_HITS_MODES

    python = next(f.default for f in fields(Fuser) if f.name == "held_out_hits")
    assert python is DEFAULT_HELD_OUT_HITS == "keep"
    assert set(HELD_OUT_HITS_MODES) == {"keep", "drop", "error"}
    # "keep" is interned, so `is` alone cannot tell an imported constant from a repeated literal:
    # replace the constant by an equal but distinct object before config and CLI are imported
    probe = (
        "import inspect, recaug.fuse.fuser as f\n"
        "f.DEFAULT_HELD_OUT_HITS = ''.join(['ke', 'ep'])\n"
        "from recaug.pipeline.config import FuseConfig\n"
        "from recaug.cli import augment\n"
        "config = FuseConfig.model_fields['held_out_hits'].default\n"
        "cli = inspect.signature(augment.fuse).parameters['held_out_hits'].default\n"
        "print(config is f.DEFAULT_HELD_OUT_HITS, cli is f.DEFAULT_HELD_OUT_HITS, FuseConfig().held_out_hits)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "True", "keep"]


def test_item_codes_outside_the_catalogue_are_refused(split: Split) -> None:
    bad = synth([0, 1, 100], [3, 5000, 7])
    needle = r"row 1, column 'item_id': item code 5000 is not in the catalogue"
    with pytest.raises(DataError, match=needle) as info:
        Fuser().fuse(split.train, bad, item_space=10)
    assert "\n" not in str(info.value) and "2..9" in str(info.value)
    Fuser().fuse(split.train, synth([0, 100], [3, 9]), item_space=10)  # 9 is the last code
    with pytest.raises(DataError, match="file f.parquet"):
        check_item_codes(bad, 10, file="f.parquet")


def test_bad_inputs(split: Split) -> None:
    with pytest.raises(DataError, match="source"):
        Fuser().fuse(split.train, synth([0], [10], source=C.REAL))
    for bad in ({"ratio": -1}, {"weight": float("nan")}, {"placement": "append"}, {"max_rows_per_user": -1}):
        with pytest.raises(ConfigError):
            Fuser(**bad)
    with pytest.raises(ConfigError):
        ConsistencyFilter(keep=0.5, threshold=0.5)


def _consistency_data() -> tuple[Interactions, Interactions, np.ndarray]:
    rng = np.random.default_rng(7)

    def plausible(users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lens = rng.integers(5, 12, len(users))
        return np.repeat(users, lens), rng.integers(2, 80, lens.sum())

    real = Interactions.from_arrays(*plausible(np.arange(200)))
    su, si = plausible(np.arange(1000, 1100))
    fake_users = np.arange(2000, 2010)
    fu = np.repeat(fake_users, 30)
    fi = np.repeat(500 + np.arange(10), 30)  # one unseen item repeated 30 times
    syn = synth(np.r_[su, fu].tolist(), np.r_[si, fi].tolist())
    return real, syn, fake_users


def test_consistency_filter_drops_planted_fakes_first() -> None:
    real, syn, fake_users = _consistency_data()
    flt = ConsistencyFilter(keep=100 / 110, seed=0)
    ranked = flt.fake_proba(real, syn)
    assert set(ranked.get_column(C.USER).head(10).to_list()) == set(fake_users.tolist())
    kept = flt.select_users(real, syn)
    assert len(kept) == 100 and not set(kept.tolist()) & set(fake_users.tolist())
    assert len(flt.filter(real, syn)) == len(syn) - 300
    # inside the fuser (no de-duplication so every fake row reaches the filter)
    fused, report = Fuser(consistency=flt, deduplicate=False).fuse(real, syn)
    assert report.dropped["consistency_filter"] == 300
    assert not fused.frame.get_column(C.USER).is_in(fake_users.tolist()).any()
