"""The repeat policy is one named setting shared by evaluation, early stopping and configs (issue 35 A.4)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from recaug.data import Interactions
from recaug.data.sequences import Sequences
from recaug.errors import ConfigError
from recaug.evaluate import Evaluator
from recaug.evaluate.segments import targets_in_history
from recaug.models.training import TrainConfig, validation_score
from recaug.pipeline.config import EvaluateConfig
from recaug.split import LeaveLastOut
from recaug.split.repeats import DEFAULT_REPEATS

ITEM_SPACE = 12


class FavoursHistory:
    """Scores the items of the user's history highest (as a repeat-aware model would)."""

    def score(self, h: Sequences) -> torch.Tensor:
        s = torch.zeros((len(h), ITEM_SPACE))
        rows = np.repeat(np.arange(len(h)), h.lengths)
        s[torch.as_tensor(rows), torch.as_tensor(h.items.astype(np.int64))] = 1.0 + torch.arange(len(rows)) / 100
        s[:, :2] = -torch.inf
        return s


def _split():
    # user 0 buys 3 again at the end (a repeated test item), user 1 ends on a new item
    users = [0, 0, 0, 0, 1, 1, 1, 1]
    items = [2, 3, 4, 3, 5, 6, 7, 8]
    return LeaveLastOut().split(Interactions.from_arrays(users, items, np.arange(8)))


def test_targets_in_history_finds_repeats_per_row():
    h = Sequences.from_lists([[2, 3], [4], []])
    hit = targets_in_history(h, np.array([0, 2, 3, 4]), np.array([3, 5, 4, 2]))
    assert hit.tolist() == [True, False, True, False]


def test_policy_decides_what_a_repeated_target_scores():
    split = _split()
    unreachable = Evaluator(ks=(1,)).evaluate(FavoursHistory(), split).per_user
    rankable = Evaluator(ks=(1,), repeats="rankable").evaluate(FavoursHistory(), split).per_user
    assert unreachable.get_column("segment:repeat_target").to_list() == [True, False]
    assert unreachable.get_column("rank").to_list()[0] == ITEM_SPACE  # masked with the history: last
    assert rankable.get_column("rank").to_list()[0] == 0  # its own (highest) score puts it first
    assert unreachable.get_column("rank").to_list()[1] == rankable.get_column("rank").to_list()[1]


def test_early_stopping_ranks_under_the_same_policy():
    h = Sequences.from_lists([[2, 3, 4]], users=np.array([0]))
    assert validation_score(FavoursHistory(), h, np.array([3]), "NDCG@1") == 0.0
    # rankable: the rest of the history stays masked, so the repeated item tops the list
    assert validation_score(FavoursHistory(), h, np.array([3]), "NDCG@1", "rankable") == 1.0
    assert TrainConfig().valid_repeats == DEFAULT_REPEATS == Evaluator().repeats == EvaluateConfig().repeats
    with pytest.raises(ConfigError, match="repeats must be one of"):
        TrainConfig(valid_repeats="sometimes")
    with pytest.raises(ConfigError, match="repeats must be one of"):
        Evaluator(repeats="sometimes")


def _duplicated_log() -> Interactions:
    # user 0's last row is logged twice (same item, same time): a logging artefact
    return Interactions.from_arrays([0, 0, 0, 0, 1, 1, 1], [2, 3, 4, 4, 5, 6, 7], [1, 2, 3, 3, 1, 2, 3])


def test_exact_duplicate_rows_are_dropped_with_a_warning(caplog):
    with caplog.at_level("WARNING", logger="recaug.split"):
        split = LeaveLastOut().split(_duplicated_log())
    assert "dropped 1 exact duplicate rows" in caplog.text
    assert split.valid.frame.get_column("item_id").to_list() == [3, 6]  # not the test item's copy
    assert split.test.frame.get_column("item_id").to_list() == [4, 7]
    assert split.protocol.to_dict()["duplicates"] == "drop"


def test_duplicates_error_and_keep_policies(caplog):
    from recaug.errors import DataError

    with pytest.raises(DataError, match="1 exact duplicate row"):
        LeaveLastOut(duplicates="error").split(_duplicated_log())
    with caplog.at_level("WARNING", logger="recaug.split"):
        split = LeaveLastOut(duplicates="keep").split(_duplicated_log())
    assert split.valid.frame.get_column("item_id").to_list()[0] == 4  # the copy of the test item
    assert "1 user(s) have a validation item equal to their test item" in caplog.text
    with pytest.raises(ConfigError, match="duplicates must be one of"):
        LeaveLastOut(duplicates="dedupe")
