"""Evaluator and full ranking against a brute-force per-user reference."""

from __future__ import annotations

import json
import math

import numpy as np
import polars as pl
import pytest
import torch

from recaug import columns as C
from recaug.data import Interactions, Sequences
from recaug.errors import ConfigError, OutputExistsError
from recaug.evaluate import (
    EvalResult,
    Evaluator,
    evaluate_summary_table,
    held_out_histories,
    rank_targets,
    sample_negatives,
)
from recaug.split import LeaveLastOut, Protocol, Split

N_USERS = 40
ITEM_SPACE = 32  # codes 2..31 are real items


class TableModel:
    """Scores looked up by user code in a fixed ``(n_users, item_space)`` matrix."""

    def __init__(self, table: np.ndarray) -> None:
        self.table = torch.as_tensor(table, dtype=torch.float32)

    def score(self, histories: Sequences) -> torch.Tensor:
        return self.table[torch.as_tensor(histories.users.astype(np.int64))]


class CachedModel:
    """Returns the same (expanded) tensor every call, like a popularity model might."""

    def __init__(self, row: np.ndarray) -> None:
        self.row = torch.as_tensor(row, dtype=torch.float32)

    def score(self, histories: Sequences) -> torch.Tensor:
        return self.row.expand(len(histories), -1)


def make_log(rng: np.random.Generator, n_users: int = N_USERS) -> Interactions:
    lengths = rng.integers(1, 14, size=n_users)
    users = np.repeat(np.arange(n_users), lengths)
    items = rng.integers(2, 14, size=lengths.sum())  # few items: repeats (targets in history) happen
    return Interactions.from_arrays(users, items)


def tie_scores(rng: np.random.Generator) -> np.ndarray:
    table = rng.integers(0, 4, size=(N_USERS, ITEM_SPACE)).astype(np.float32)  # many ties
    table[:, :2] = -np.inf
    return table


def brute_ranks(
    table: np.ndarray,
    users: list[int],
    histories: list[list[int]],
    targets: list[list[int]],
    mask: bool = True,
    repeats: str = "unreachable",
) -> list[int]:
    """Sort-free reference: count every other candidate scoring >= the target (pessimistic ties).

    ``repeats="unreachable"``: a target in the history is masked with it (worst rank);
    ``"rankable"``: the history is masked except the targets.
    """
    out = []
    for user, hist, tgts in zip(users, histories, targets, strict=True):
        s = table[user]
        rankable = repeats == "rankable"  # held-out items stay candidates even when in the history
        cands = [i for i in range(2, ITEM_SPACE) if not (mask and i in hist) or (rankable and i in tgts)]
        for t in tgts:
            unreachable = mask and repeats == "unreachable" and t in hist
            if t < 2 or t >= ITEM_SPACE or not s[t] > -np.inf or unreachable:
                out.append(ITEM_SPACE)
                continue
            out.append(sum(1 for c in cands if c != t and (s[c] >= s[t] or np.isnan(s[c]))))
    return out


def brute_metrics(ranks: list[int], n_targets: list[int], k: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"HR": [], "Recall": [], "NDCG": [], "MRR": []}
    pos = 0
    for n in n_targets:
        rs = ranks[pos : pos + n]
        pos += n
        hits = [r for r in rs if r < k]
        out["HR"].append(1.0 if hits else 0.0)
        out["Recall"].append(len(hits) / min(k, n))
        idcg = sum(1 / math.log2(i + 2) for i in range(min(k, n)))
        out["NDCG"].append(sum(1 / math.log2(r + 2) for r in hits) / idcg)
        out["MRR"].append(1 / (min(rs) + 1) if min(rs) < k else 0.0)
    return out


def user_lists(split: Split, target: str, users: list[int]) -> tuple[list[list[int]], list[list[int]]]:
    hist = split.history(target).frame
    held = getattr(split, target).frame
    hs, ts = [], []
    for u in users:
        hs.append(hist.filter(pl.col(C.USER) == u).get_column(C.ITEM).to_list())
        seen: list[int] = []
        for i in held.filter(pl.col(C.USER) == u).get_column(C.ITEM).to_list():
            if i not in seen:
                seen.append(i)
        ts.append(seen)
    return hs, ts


@pytest.mark.parametrize("repeats", ["unreachable", "rankable"])
@pytest.mark.parametrize("n_test", [1, 2, 3])
def test_matches_brute_force_with_ties_and_masking(rng: np.random.Generator, n_test: int, repeats: str) -> None:
    split = LeaveLastOut(n_test=n_test).split(make_log(rng))
    table = tie_scores(rng)
    results = [
        Evaluator(ks=(1, 5, 10), chunk_size=c, repeats=repeats).evaluate(TableModel(table), split)
        for c in (1, 7, 4096)
    ]
    per_user = results[0].per_user
    users = per_user.get_column(C.USER).to_list()
    hs, ts = user_lists(split, "test", users)
    expected = brute_ranks(table, users, hs, ts, repeats=repeats)
    repeat_users = [any(t in h for t in tt) for h, tt in zip(hs, ts, strict=True)]
    assert any(repeat_users) and not all(repeat_users)  # the log must exercise both policies
    assert per_user.get_column("segment:repeat_target").to_list() == repeat_users
    assert results[0].protocol["repeats"] == repeats
    assert per_user.get_column("ranks").explode().to_list() == expected
    assert per_user.get_column("n_history").to_list() == [len(h) for h in hs]
    assert per_user.get_column("targets").to_list() == ts
    n_targets = [len(t) for t in ts]
    for k in (1, 5, 10):
        for m, values in brute_metrics(expected, n_targets, k).items():
            np.testing.assert_allclose(per_user.get_column(f"{m}@{k}").to_numpy(), values, err_msg=f"{m}@{k}")
    for other in results[1:]:  # chunk sizes 1 / 7 / all give identical results
        assert other.per_user.equals(per_user)


def test_without_history_masking_matches_brute_force(rng: np.random.Generator) -> None:
    split = LeaveLastOut().split(make_log(rng))
    table = rng.normal(size=(N_USERS, ITEM_SPACE)).astype(np.float32)
    table[:, :2] = -np.inf
    res = Evaluator(mask_history=False).evaluate(TableModel(table), split)
    users = res.per_user.get_column(C.USER).to_list()
    hs, ts = user_lists(split, "test", users)
    assert res.per_user.get_column("rank").to_list() == brute_ranks(table, users, hs, ts, mask=False)
    assert res.protocol["history_masking"] == "none"


def test_rank_targets_matches_brute_force(rng: np.random.Generator) -> None:
    table = tie_scores(rng)
    rows = [list(rng.integers(2, ITEM_SPACE, size=rng.integers(0, 8))) for _ in range(N_USERS)]
    targets = rng.integers(2, ITEM_SPACE, size=N_USERS)
    targets[:5] = [r[0] if r else 5 for r in rows[:5]]  # some targets are repeats from the history
    seqs = Sequences.from_lists(rows)
    expected = brute_ranks(table, list(range(N_USERS)), rows, [[int(t)] for t in targets])
    for chunk in (1, 7, N_USERS):
        assert rank_targets(TableModel(table), seqs, targets, chunk_size=chunk).tolist() == expected


def test_valid_target_uses_train_only(rng: np.random.Generator) -> None:
    split = LeaveLastOut().split(make_log(rng))
    hist, offsets, items = held_out_histories(split, "valid")
    train_len = split.train.frame.group_by(C.USER).len()
    expected = dict(
        zip(train_len.get_column(C.USER).to_list(), train_len.get_column("len").to_list(), strict=True)
    )
    assert hist.lengths.tolist() == [expected[u] for u in hist.users.tolist()]
    res = Evaluator().evaluate(TableModel(tie_scores(rng)), split, target="valid")
    assert res.protocol["target"] == "valid" and res.n_users == len(hist)


def test_user_without_history_is_evaluated() -> None:
    train = Interactions.from_arrays([0, 0, 1], [2, 3, 4])
    empty = Interactions.from_arrays([], [])
    test = Interactions.from_arrays([0, 2], [5, 6])  # user 2 never appears in train
    split = Split(train, empty, test, Protocol("manual"))
    table = np.arange(3 * 8, dtype=np.float32).reshape(3, 8)
    table[:, :2] = -np.inf
    res = Evaluator(ks=(1, 5)).evaluate(TableModel(table), split)
    pu = res.per_user
    assert pu.get_column(C.USER).to_list() == [0, 2]
    assert pu.get_column("n_history").to_list() == [2, 0]
    # user 0: scores rise with the code, items 2 and 3 masked: 6, 7 above 5 -> rank 2
    # user 2: nothing masked: 7 above 6 -> rank 1
    assert pu.get_column("rank").to_list() == [2, 1]
    assert pu.get_column("NDCG@5").to_list() == pytest.approx([0.5, 1 / math.log2(3)])


def test_constant_model_gets_worst_rank(rng: np.random.Generator) -> None:
    split = LeaveLastOut().split(make_log(rng))
    table = np.zeros((N_USERS, ITEM_SPACE), dtype=np.float32)
    res = Evaluator(repeats="rankable").evaluate(TableModel(table), split)
    hs, _ = user_lists(split, "test", res.per_user.get_column(C.USER).to_list())
    ts = res.per_user.get_column("targets").to_list()
    # every other unmasked real item ties with the target and counts as above it
    n_cands = [len(set(range(2, ITEM_SPACE)) - (set(h) - set(t))) for h, t in zip(hs, ts, strict=True)]
    assert res.per_user.get_column("rank").to_list() == [n - 1 for n in n_cands]
    assert res.summary()["HR@20"] == 0.0


def test_model_tensor_is_not_modified() -> None:
    row = np.linspace(0, 1, ITEM_SPACE).astype(np.float32)
    model = CachedModel(row)
    seqs = Sequences.from_lists([[30, 31], [30, 31], [2]])
    first = rank_targets(model, seqs, np.array([29, 29, 29]))
    assert torch.equal(model.row, torch.as_tensor(row))  # -inf masking never leaks into the model
    again = rank_targets(model, seqs, np.array([29, 29, 29]))
    assert first.tolist() == again.tolist() == [0, 0, 2]


def test_special_target_scores() -> None:
    table = np.zeros((4, 6), dtype=np.float32)
    table[0, 4] = np.inf  # +inf target: nothing ranks above it
    table[1, 4] = np.nan  # NaN target: worst rank
    table[2, 3] = np.nan  # NaN competitor counts as above (pessimistic)
    table[2, 4] = 1.0
    seqs = Sequences.from_lists([[], [], [], []])
    ranks = rank_targets(TableModel(table), seqs, np.array([4, 4, 4, 1]))
    assert ranks.tolist() == [0, 6, 1, 6]  # target code 1 (MASK) is never a valid target


def test_numpy_scores_are_accepted() -> None:
    class NumpyModel:
        def score(self, h: Sequences) -> np.ndarray:
            return np.tile(np.arange(6, dtype=np.float64), (len(h), 1))

    assert rank_targets(NumpyModel(), Sequences.from_lists([[5], []]), np.array([4, 4])).tolist() == [0, 1]


def test_sampled_negatives_avoid_positives_and_are_seeded() -> None:
    pos = torch.zeros((3, 12), dtype=torch.bool)
    pos[0, 2:11] = True  # only item 11 is a negative for user 0
    pos[1, 2:12] = True  # no negative at all for user 1
    users = np.array([0, 1, 2])
    a = sample_negatives(users, pos, 50, seed=3)
    assert (a[0] == 11).all()
    assert (a[1] == -1).all()
    assert ((a[2] >= 2) & (a[2] < 12)).all()
    assert torch.equal(a, sample_negatives(users, pos, 50, seed=3))
    assert not torch.equal(a[2], sample_negatives(users, pos, 50, seed=4)[2])
    # a user's draws do not depend on which other users share the batch
    assert torch.equal(sample_negatives(users[2:], pos[2:], 50, seed=3)[0], a[2])


def test_sampled_evaluation_is_labelled_seeded_and_correct(rng: np.random.Generator) -> None:
    split = LeaveLastOut().split(make_log(rng))
    table = tie_scores(rng)
    model = TableModel(table)
    runs = [
        Evaluator(candidates=5, seed=7, chunk_size=c, repeats="rankable").evaluate(model, split) for c in (1, 7, 4096)
    ]
    res = runs[0]
    for other in runs[1:]:
        assert other.per_user.equals(res.per_user)
    assert res.sampled and res.protocol["candidates"] == "sampled" and res.protocol["n_negatives"] == 5
    assert "SAMPLED" in res.describe() and "sampled, 5 neg." in evaluate_summary_table({"x": res})
    assert res.per_user.get_column("rank").max() <= 5
    # reference: rank = number of the user's drawn negatives scoring >= the target
    hist, offsets, items = held_out_histories(split, "test")
    pos = torch.zeros((len(hist), ITEM_SPACE), dtype=torch.bool)
    for r in range(len(hist)):
        pos[r, torch.as_tensor(hist[r].astype(np.int64))] = True
        pos[r, int(items[r])] = True
    negs = sample_negatives(hist.users, pos, 5, seed=7).numpy()
    s = table[hist.users]
    expected = [int(sum(s[r, n] >= s[r, items[r]] for n in negs[r] if n >= 0)) for r in range(len(hist))]
    assert res.per_user.get_column("rank").to_list() == expected
    other_seed = Evaluator(candidates=5, seed=8, repeats="rankable").evaluate(model, split)
    # the P1-faithful default puts a repeated target last in the sampled list too
    unreachable = Evaluator(candidates=5, seed=7).evaluate(model, split).per_user
    repeat = unreachable.get_column("segment:repeat_target").to_numpy()
    assert repeat.any()
    assert (unreachable.get_column("rank").to_numpy()[repeat] == 6).all()
    assert not other_seed.per_user.equals(res.per_user)
    full = Evaluator().evaluate(model, split)
    assert not full.sampled and full.protocol["candidates"] == "all_items"


def test_protocol_and_save_load(tmp_path, rng: np.random.Generator) -> None:
    split = LeaveLastOut().split(make_log(rng))
    res = Evaluator(ks=(5, 10)).evaluate(TableModel(tie_scores(rng)), split)
    p = res.protocol
    assert p["split"] == "leave_last_out" and p["n_test"] == 1 and p["ks"] == [5, 10]
    assert p["history_masking"] == "-inf" and p["ties"] == "pessimistic" and p["candidates"] == "all_items"
    assert res.metric_names == [f"{m}@{k}" for m in ("HR", "NDCG", "MRR", "Recall") for k in (5, 10)]
    out = res.save(tmp_path / "eval")
    doc = json.loads((out / "summary.json").read_text())
    assert doc["protocol"] == p and doc["n_users"] == res.n_users
    assert doc["summary"] == pytest.approx(res.summary())
    assert doc["segments"]["all"]["n_users"] == res.n_users
    back = EvalResult.load(out)
    assert back.per_user.equals(res.per_user) and back.protocol == p
    assert back.by_segment() == res.by_segment()
    with pytest.raises(OutputExistsError):
        res.save(out)
    res.save(out, force=True)
    assert not [f for f in tmp_path.iterdir() if f.name.startswith(".")]  # no temp leftovers


def test_summary_table_over_seeds(rng: np.random.Generator) -> None:
    split = LeaveLastOut().split(make_log(rng))
    runs = [Evaluator(ks=(10,)).evaluate(TableModel(tie_scores(rng)), split) for _ in range(3)]
    table = evaluate_summary_table({"control": runs, "one": runs[0]}, metrics=["HR@10", "NDCG@10"])
    lines = table.strip().splitlines()
    assert lines[0] == "| variant | users | runs | HR@10 | NDCG@10 |"
    assert " ± " in lines[2] and " ± " not in lines[3]
    mean = np.mean([r.summary()["HR@10"] for r in runs])
    assert f"{mean:.4f}" in lines[2]


def test_bad_settings() -> None:
    for kwargs in (
        {"ks": (0,)},
        {"metrics": ("AUC",)},
        {"candidates": "some"},
        {"candidates": 0},
        {"chunk_size": 0},
    ):
        with pytest.raises(ConfigError):
            Evaluator(**kwargs)
    with pytest.raises(ConfigError):
        held_out_histories(LeaveLastOut().split(Interactions.from_arrays([0, 0, 0], [2, 3, 4])), "train")


def test_empty_test_set() -> None:
    split = LeaveLastOut().split(Interactions.from_arrays([0], [2]))  # one interaction: all in train
    res = Evaluator().evaluate(TableModel(np.zeros((1, 4))), split)
    assert res.n_users == 0 and math.isnan(res.summary()["HR@10"])
    assert res.by_segment()["all"]["n_users"] == 0


def test_trivial_catalogue_is_warned_about(caplog) -> None:
    """One item: HR@10 = 1.0 by construction; the evaluator must say the ranking is trivial."""
    from recaug.models import get_model_class

    for items, ks, trivial in (([2, 2, 2], (5, 10), True), ([2, 3, 4], (1,), False)):
        split = LeaveLastOut().split(Interactions.from_arrays([0, 0, 0], items, [1, 2, 3]))
        model = get_model_class("pop")().fit(split.train, split.valid, item_space=5)
        caplog.clear()
        with caplog.at_level("WARNING", logger="recaug.evaluate"):
            Evaluator(ks=ks, repeats="rankable").evaluate(model, split)
        assert ("ranking is trivial" in caplog.text) == trivial
