"""RepPad on (input, target) pairs inside sequence-model training (``repeat_pad=True``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from recaug.data import Interactions
from recaug.data.sequences import Sequences
from recaug.models import GRU4Rec, SASRec
from recaug.models.reppad import copies_that_fit, repeat_pad_pairs
from recaug.split import LeaveLastOut

torch.set_num_threads(1)

TINY = {"hidden": 8, "n_layers": 1, "max_len": 8, "epochs": 2, "batch_size": 8}
TINY.update(device="cpu", progress=False, threads=1)


def brute_reppad(x: list[int], y: list[int], width: int, copies: int, side: str) -> tuple[list[int], list[int]]:
    """Per-row reference: the row's pairs repeated ``copies`` times with a (0, 0) delimiter."""
    nz = [i for i, v in enumerate(x) if v != 0]
    if not nz:
        return list(x), list(y)
    lo, hi = nz[0], nz[-1] + 1
    px, py = x[lo:hi], y[lo:hi]
    rx, ry = list(px), list(py)
    for _ in range(copies - 1):
        rx, ry = px + [0] + rx, py + [0] + ry
    pad = [0] * (width - len(rx))
    return (pad + rx, pad + ry) if side == "left" else (rx + pad, ry + pad)


def test_hand_example_left_and_right():
    x = torch.tensor([[0, 0, 0, 0, 0, 0, 0, 5, 6], [1, 2, 3, 4, 5, 6, 7, 8, 9], [0] * 9])
    y = torch.tensor([[0, 0, 0, 0, 0, 0, 0, 6, 8], [2, 3, 4, 5, 6, 7, 8, 9, 10], [0] * 9])
    a, b = repeat_pad_pairs(x, y, "left", torch.tensor([0.99, 0.5, 0.5]))
    assert a[0].tolist() == [0, 5, 6, 0, 5, 6, 0, 5, 6]
    assert b[0].tolist() == [0, 6, 8, 0, 6, 8, 0, 6, 8]
    assert torch.equal(a[1:], x[1:]) and torch.equal(b[1:], y[1:])  # full and empty rows unchanged
    a, b = repeat_pad_pairs(x[:1].flip(1), y[:1].flip(1), "right", torch.tensor([0.0]))
    assert a[0].tolist() == [6, 5, 0, 6, 5, 0, 0, 0, 0]


@pytest.mark.parametrize("side", ["left", "right"])
def test_matches_brute_force_reference(side):
    rng = np.random.default_rng(0)
    width, n = 12, 60
    lengths = rng.integers(0, width + 1, n)
    x = np.zeros((n, width), dtype=np.int64)
    y = np.zeros((n, width), dtype=np.int64)
    for r, length in enumerate(lengths):
        cols = slice(width - length, width) if side == "left" else slice(0, length)
        x[r, cols] = rng.integers(2, 50, length)
        y[r, cols] = rng.integers(2, 50, length)
    u = torch.from_numpy(rng.random(n))
    a, b = repeat_pad_pairs(torch.from_numpy(x), torch.from_numpy(y), side, u)
    most = copies_that_fit(torch.from_numpy(lengths), width)
    for r in range(n):
        m = int(most[r])
        copies = 1 if m == 1 else min(int(float(u[r]) * (m - 1)) + 1, m - 1) + 1
        assert 1 <= copies <= m
        ex, ey = brute_reppad(x[r].tolist(), y[r].tolist(), width, copies, side)
        assert a[r].tolist() == ex and b[r].tolist() == ey
        # every copy trains the row's own transitions: the multiset of real targets scales with copies
        assert int((np.array(ey) != 0).sum()) == copies * int((y[r] != 0).sum())


def test_no_extra_copy_when_there_is_no_room():
    x = torch.tensor([[0, 0, 3, 4, 5]])
    y = torch.tensor([[0, 0, 4, 5, 6]])
    a, b = repeat_pad_pairs(x, y, "left", torch.tensor([0.99]))
    assert torch.equal(a, x) and torch.equal(b, y)  # 3 pairs + delimiter + 3 pairs > 5 columns


@pytest.fixture(scope="module")
def split():
    rng = np.random.default_rng(3)
    users, items = [], []
    for user in range(30):
        for _ in range(int(rng.integers(3, 7))):
            users.append(user)
            items.append(int(rng.integers(2, 25)))
    return LeaveLastOut().split(Interactions.from_arrays(users, items))


@pytest.mark.parametrize("cls,extra", [(SASRec, {"n_heads": 1}), (GRU4Rec, {})])
def test_models_train_with_reppad_deterministically(split, cls, extra):
    kwargs = {**TINY, **extra, "repeat_pad": True, "seed": 5}
    a = cls(**kwargs).fit(split.train, split.valid)
    b = cls(**kwargs).fit(split.train, split.valid)
    hist = Sequences.from_interactions(split.history("test"))
    sa, sb = a.score(hist), b.score(hist)
    assert torch.equal(sa, sb)
    assert a.config()["repeat_pad"] is True
    plain = cls(**{**kwargs, "repeat_pad": False}).fit(split.train, split.valid)
    assert not torch.equal(plain.score(hist), sa)  # RepPad changes what is learned
