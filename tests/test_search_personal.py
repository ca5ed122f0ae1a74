"""PersonalSearch ("personal", TEM): histories change scores, no-history users, leakage-free histories."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import torch

from recaug import columns as C
from recaug.data.dataset import Dataset
from recaug.errors import ConfigError
from recaug.search import SearchEvaluator, SearchLeaveLastOut, SearchLog, build_search_model
from recaug.search.dense import DenseSearch
from recaug.search.personal import PersonalSearch
from recaug.search.towers import gather_history, history_index, user_history_table

FAST = {"epochs": 25, "batch_size": 32, "lr": 1e-2, "threads": 1, "progress": False, "device": "cpu",
        "dropout": 0.0}


def gift_log(n_users: int = 40, *, unique_held_out: bool = False) -> SearchLog:
    """Half the users buy "apple" items, half "berry" items; what the query "gift" ends on depends
    only on that: ``a_gift`` after apples, ``b_gift`` after berries. Each user searches
    apple/berry, gift, apple/berry, gift, apple/berry, gift (LOO: the last gift is the test event).
    The gift items' texts are the same, so only the history can tell them apart. With
    ``unique_held_out`` the last two events of each user (validation, test) end on items of
    their own (``valid_<u>``, ``test_<u>``) that no other event has.
    """
    rows = []
    for u in range(n_users):
        kind = "a" if u % 2 == 0 else "b"
        word = "apple" if kind == "a" else "berry"
        for t in range(3):
            fruit, gift = f"{kind}_fruit", f"{kind}_gift"
            if unique_held_out and t == 2:
                fruit, gift = f"valid_{u:02d}", f"test_{u:02d}"
            rows.append((f"u{u:02d}", fruit, 2 * t, word))
            rows.append((f"u{u:02d}", gift, 2 * t + 1, "gift"))
    frame = pl.DataFrame(rows, schema=[C.USER, C.ITEM, C.TIME, C.QUERY], orient="row")
    items = pl.DataFrame({C.ITEM: ["a_fruit", "b_fruit", "a_gift", "b_gift"],
                          "text": ["apple fruit", "berry fruit", "gift box", "gift box"]})
    return SearchLog(Dataset.from_frame(frame, items=items))


@pytest.fixture(scope="module")
def split():
    return SearchLeaveLastOut().split(gift_log())


@pytest.fixture(scope="module")
def fitted(split):
    return PersonalSearch(**FAST).fit(split.train, split.valid).use_history(split.history("test"))


def test_history_makes_the_difference(split, fitted):
    personal = SearchEvaluator(ks=(1,)).evaluate(fitted, split).summary()["HR@1"]
    dense = DenseSearch(**FAST).fit(split.train, split.valid)
    plain = SearchEvaluator(ks=(1,)).evaluate(dense, split).summary()["HR@1"]
    assert personal >= 0.9 and plain <= 0.6, (personal, plain)
    # the same query, two users with different histories: different scores and top items
    scores = fitted.score(["gift", "gift"], [0, 1])
    assert not np.array_equal(scores[0], scores[1])
    codes = split.train.vocab.encode_items(pl.Series(["a_gift", "b_gift"])).to_list()
    assert fitted.recommend(["gift", "gift"], [0, 1], k=1)[:, 0].tolist() == codes


def test_user_without_history_gets_the_query_only_scores(split, fitted):
    scores = fitted.score(["gift"] * 4 + ["apple"], [0, 1, 10**6, -1, 10**6])
    assert np.isfinite(scores[:, 2:]).all()
    no_history = fitted.score(["gift", "gift"], [10**6, -1])
    np.testing.assert_array_equal(no_history[0], no_history[1])
    # a known user whose history is removed scores exactly like an unknown one
    without_u0 = split.history("test").frame.filter(pl.col(C.USER) != 0)
    try:
        fitted.use_history(split.train.with_frame(without_u0))
        rows = fitted.score(["gift"] * 3, [0, 10**6, 2])  # one batch: the same arithmetic per row
        np.testing.assert_array_equal(rows[0], rows[1])
        assert not np.allclose(rows[2], rows[1])  # user 2 still has a history
    finally:
        fitted.use_history(split.history("test"))
    with pytest.raises(ConfigError):
        fitted.score(["gift"])  # personalised: users are required


def test_history_index_is_earlier_training_events_only():
    # events sorted by user then time: user 0 buys 5, 6, 7; user 1 buys 8 (synthetic), 9
    users = np.array([0, 0, 0, 1, 1])
    items = np.array([5, 6, 7, 8, 9])
    real = np.array([True, True, True, False, True])
    hist = gather_history(*(torch.as_tensor(a) for a in history_index(users, items, real)), 2)
    assert hist.tolist() == [[0, 0], [5, 0], [6, 5], [0, 0], [0, 0]]
    frame = pl.DataFrame({C.USER: [1, 0, 0, 0, 1], C.ITEM: [9, 7, 5, 6, 8], C.TIME: [5, 3, 1, 2, 4],
                          C.SOURCE: ["real", "real", "real", "real", "aug"]})
    table = user_history_table(frame, 3, 2)
    assert table.tolist() == [[7, 6], [9, 0], [0, 0]]


def test_training_and_validation_histories_never_hold_held_out_items(monkeypatch):
    """Leakage spy: valid/test items occur only in valid/test events; no training history, no
    validation-time history and no test-time history (train + valid) holds a test item."""
    import recaug.search.personal as personal_mod

    log = gift_log(unique_held_out=True)
    split = SearchLeaveLastOut().split(log)
    valid_items, test_items = set(split.valid.targets.tolist()), set(split.test.targets.tolist())
    train_items = set(split.train.targets.tolist())
    assert not (valid_items | test_items) & train_items
    seen: list[torch.Tensor] = []
    gather = personal_mod.gather_history

    def spy(*args, **kw):
        out = gather(*args, **kw)
        seen.append(out)
        return out

    monkeypatch.setattr(personal_mod, "gather_history", spy)
    model = PersonalSearch(**{**FAST, "epochs": 2, "patience": None})
    tables: list[np.ndarray] = []
    score = model.score

    def spy_score(queries, users=None):
        tables.append(model.user_history_.numpy().copy())
        return score(queries, users)

    model.score = spy_score
    model.fit(split.train, split.valid)
    assert len(seen) >= 2 and len(tables) >= 2
    for batch in seen:  # training histories: training items only
        assert set(np.unique(batch.numpy()).tolist()) <= train_items | {0}
    # early stopping scored split.valid with the training histories only
    expected = user_history_table(split.train.frame, log.vocab.n_users, model.max_history)
    for table in tables:
        np.testing.assert_array_equal(table, expected)
    np.testing.assert_array_equal(model.user_history_.numpy(), expected)  # after fit: still train only
    model.use_history(split.history("test"))
    after = model.user_history_.numpy()
    assert all(after[user, 0] == item for user, item in split.valid.frame.select(C.USER, C.ITEM).rows())
    assert not set(np.unique(after).tolist()) & test_items


def test_cold_item_finite_and_from_text(split, fitted):
    # a larger item space: codes past the log's items have no text and no events
    model = PersonalSearch(**{**FAST, "epochs": 2}).fit(split.train, item_space=split.train.item_space + 2)
    scores = model.score(["gift", "apple"], [0, 1])
    assert scores.shape[1] == split.train.item_space + 2 and np.isfinite(scores[:, 2:]).all()
    assert not bool(model.warm_[-1])
    cold = split.train.item_space  # the first extra code
    with torch.no_grad():
        model.module_.items.weight[cold] += 50.0  # its id vector is masked: nothing changes
    np.testing.assert_array_equal(model.score(["gift", "apple"], [0, 1]), scores)


def test_same_seed_same_bytes_and_save_load(tmp_path, split, fitted):
    queries, users = ["gift", "apple", "gift", "nothing"], [0, 0, 1, 10**6]
    again = PersonalSearch(**FAST).fit(split.train, split.valid).use_history(split.history("test"))
    assert fitted.score(queries, users).tobytes() == again.score(queries, users).tobytes()
    other = PersonalSearch(**{**FAST, "seed": 3}).fit(split.train, split.valid).use_history(split.history("test"))
    assert fitted.score(queries, users).tobytes() != other.score(queries, users).tobytes()
    folder = fitted.save(tmp_path / "personal")
    torch.load(folder / "state.pt", weights_only=True)
    loaded = PersonalSearch.load(folder)
    assert loaded.config() == fitted.config()
    assert loaded.score(queries, users).tobytes() == fitted.score(queries, users).tobytes()
    np.testing.assert_array_equal(loaded.user_history_.numpy(), fitted.user_history_.numpy())


def test_settings_and_registry():
    fields = PersonalSearch.settings_fields()
    assert fields["max_history"] == (int, 10) and fields["dim"] == (int, 64) and "epochs" in fields
    model = build_search_model("personal", {"max_history": 3, "n_heads": 4, "dim": 16}, device="cpu")
    assert isinstance(model, PersonalSearch) and model.personalised and model.max_history == 3
    for bad in ({"n_heads": 3}, {"max_history": -1}, {"max_histroy": 3}):
        with pytest.raises(ConfigError):
            build_search_model("personal", bad)
    zero = PersonalSearch(**{**FAST, "epochs": 1, "max_history": 0}).fit(gift_log())
    assert np.isfinite(zero.score(["gift"], [0])[:, 2:]).all()
