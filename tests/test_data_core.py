"""Core data types: vocabulary, interactions, CSR sequences, dataset folder format."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recaug import columns as C
from recaug.atomic import atomic_dir, write_marker
from recaug.data import Dataset, Interactions, Sequences, Vocabulary
from recaug.errors import DataError, OutputExistsError


def _frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "user_id": ["u2", "u1", "u1", "u3", "u2", "u1"],
            "item_id": ["10", "2", "3", "10", "2", "10"],
            "timestamp": [5, 1, 2, 3, 4, 9],
        }
    )


def test_vocabulary_reserves_pad_and_mask_and_sorts_numerically() -> None:
    vocab = Vocabulary.build(pl.Series(["b", "a"]), pl.Series(["10", "9", "10", "100"]))
    codes = vocab.encode_items(pl.Series(["9", "10", "100"])).to_list()
    assert codes == [2, 3, 4]  # numeric order, first real code is 2
    assert vocab.item_space == 5
    assert vocab.decode_items(np.array([4, 2])).to_list() == ["100", "9"]
    assert vocab.encode_users(pl.Series(["a", "b"])).to_list() == [0, 1]


def test_vocabulary_unknown_id_is_a_clear_error() -> None:
    vocab = Vocabulary.build(pl.Series(["a"]), pl.Series(["x"]))
    with pytest.raises(DataError, match="unknown item id 'y'"):
        vocab.encode_items(pl.Series(["x", "y"]))
    with pytest.raises(DataError, match="reserved"):
        vocab.decode_items(np.array([1]))


def test_interactions_reject_reserved_item_codes_and_nulls() -> None:
    with pytest.raises(DataError, match="reserved"):
        Interactions.from_arrays([0], [1])
    with pytest.raises(DataError, match="null"):
        Interactions(pl.DataFrame({"user_id": [0, None], "item_id": [2, 3], "timestamp": [0, 1]}))
    with pytest.raises(DataError, match="lack column"):
        Interactions(pl.DataFrame({"user_id": [0], "item_id": [2]}))


def test_interactions_are_sorted_by_user_then_time_stably() -> None:
    inter = Interactions.from_arrays([1, 0, 1, 0], [5, 4, 3, 2], [7, 7, 1, 7])
    assert inter.users.tolist() == [0, 0, 1, 1]
    assert inter.items.tolist() == [4, 2, 3, 5]  # tie at t=7 keeps input order
    assert set(inter.frame.get_column(C.SOURCE).to_list()) == {C.REAL}


def test_sequences_round_trip_is_exact() -> None:
    inter = Interactions.from_arrays([3, 3, 1, 1, 1], [2, 4, 5, 6, 2], [10, 11, 1, 2, 3])
    seqs = Sequences.from_interactions(inter)
    assert seqs.users.tolist() == [1, 3]
    assert seqs.to_lists() == [[5, 6, 2], [2, 4]]
    assert seqs.to_interactions().equals(inter)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.lists(st.integers(2, 50), max_size=8), max_size=10), st.integers(1, 6))
def test_to_padded_keeps_the_last_items(rows: list[list[int]], max_len: int) -> None:
    seqs = Sequences.from_lists(rows)
    padded = seqs.to_padded(max_len)
    for r, row in enumerate(rows):
        tail = row[-max_len:] if row else []
        expected = [0] * (max_len - len(tail)) + tail
        assert padded[r].tolist() == expected
    right = seqs.to_padded(max_len, side="right")
    for r, row in enumerate(rows):
        tail = row[-max_len:] if row else []
        assert right[r].tolist() == tail + [0] * (max_len - len(tail))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.lists(st.integers(2, 50), max_size=8), max_size=10), st.data())
def test_take_gathers_rows(rows: list[list[int]], data: st.DataObject) -> None:
    seqs = Sequences.from_lists(rows)
    picks = data.draw(st.lists(st.integers(0, max(len(rows) - 1, 0)), max_size=12)) if rows else []
    taken = seqs.take(np.array(picks, dtype=np.int64))
    assert taken.to_lists() == [rows[p] for p in picks]


def test_sequences_validate_offsets() -> None:
    with pytest.raises(DataError):
        Sequences(offsets=np.array([0, 3]), items=np.array([2, 3]), users=np.array([0]))
    with pytest.raises(DataError):
        Sequences(offsets=np.array([0, 2, 1, 2]), items=np.array([2, 3]), users=np.array([0, 1, 2]))


def test_dataset_save_load_is_lossless(tmp_path) -> None:
    items = pl.DataFrame({"item_id": ["2", "3", "10", "999"], "category": ["a", "b", "a", "z"]})
    ds = Dataset.from_frame(_frame(), items=items, name="toy")
    ds.save(tmp_path / "ds")
    back = Dataset.load(tmp_path / "ds")
    assert back.interactions.equals(ds.interactions)
    assert back.vocab == ds.vocab
    assert back.items.equals(ds.items)
    assert back.users.equals(ds.users)
    assert back.name == "toy"
    # original ids are recoverable
    original = back.with_original_ids().sort(["user_id", "timestamp"])
    assert original.select("user_id", "item_id", "timestamp").equals(
        _frame().sort(["user_id", "timestamp"]).select("user_id", "item_id", "timestamp")
    )
    schema = json.loads((tmp_path / "ds" / "schema.json").read_text())
    assert schema["n_users"] == 3 and schema["n_items"] == 3 and schema["n_interactions"] == 6
    assert "| users | 3 |" in (tmp_path / "ds" / "summary.md").read_text()
    # the item table only keeps known items, category of unknown item 999 is dropped
    assert ds.items.height == 3
    assert ds.item_categories().to_list()[2:] == ["a", "b", "a"]


def test_dataset_save_refuses_existing_output(tmp_path) -> None:
    ds = Dataset.from_frame(_frame())
    ds.save(tmp_path / "ds")
    with pytest.raises(OutputExistsError):
        ds.save(tmp_path / "ds")
    ds.save(tmp_path / "ds", force=True)
    assert Dataset.load(tmp_path / "ds").interactions.equals(ds.interactions)


def test_interrupted_write_leaves_no_output(tmp_path) -> None:
    target = tmp_path / "out"
    with pytest.raises(RuntimeError):
        with atomic_dir(target) as tmp:
            (tmp / "half.parquet").write_text("partial")
            raise RuntimeError("crash half-way")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_interrupted_overwrite_keeps_previous_output(tmp_path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    write_marker(target)  # force replaces only folders recaug wrote
    (target / "keep.txt").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_dir(target, force=True) as tmp:
            (tmp / "new.txt").write_text("new")
            raise RuntimeError("crash")
    assert (target / "keep.txt").read_text() == "old"


def test_load_rejects_non_dataset_folder(tmp_path) -> None:
    with pytest.raises(DataError, match="schema.json"):
        Dataset.load(tmp_path)
