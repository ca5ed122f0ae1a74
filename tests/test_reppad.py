"""RepPad on (input, target) pairs inside sequence-model training (``repeat_pad=True``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import random_split
from recaug.data.sequences import Sequences
from recaug.models import GRU4Rec, SASRec
from recaug.models.reppad import extra_copies_allowed, repeat_pad_pairs

torch.set_num_threads(1)

TINY = {"hidden": 8, "n_layers": 1, "max_len": 8, "epochs": 2, "batch_size": 8}
TINY.update(device="cpu", progress=False, threads=1)


def brute_reppad(
    x: list[int], y: list[int], width: int, copies: int, side: str, delimiter: bool
) -> tuple[list[int], list[int]]:
    """Per-row reference, as the paper's pseudocode: ``(pairs + [0]) * extra + pairs``, cut to ``width``."""
    nz = [i for i, v in enumerate(x) if v != 0]
    if not nz:
        return list(x), list(y)
    lo, hi = nz[0], nz[-1] + 1
    px, py = x[lo:hi], y[lo:hi]
    if side == "right":  # lay copies out from the row's real end: reverse, build as left, reverse back
        px, py = px[::-1], py[::-1]
    sep = [0] if delimiter else []
    rx = (px + sep) * (copies - 1) + px
    ry = (py + sep) * (copies - 1) + py
    rx, ry = rx[-width:], ry[-width:]
    pad = [0] * (width - len(rx))
    rx, ry = pad + rx, pad + ry
    return (rx, ry) if side == "left" else (rx[::-1], ry[::-1])


def test_hand_example_left_and_right():
    x = torch.tensor([[0, 0, 0, 0, 0, 0, 0, 5, 6], [0, 0, 0, 0, 1, 2, 3, 4, 5], [0] * 9])
    y = torch.tensor([[0, 0, 0, 0, 0, 0, 0, 6, 8], [0, 0, 0, 0, 2, 3, 4, 5, 6], [0] * 9])
    u = torch.tensor([0.99, 0.5, 0.5])
    # 2 pairs in 9 columns: up to 9 // 2 = 4 extra copies; u = 0.99 picks 4, cut at the width
    a, b = repeat_pad_pairs(x, y, "left", u, delimiter=True)
    assert a[0].tolist() == [0, 5, 6, 0, 5, 6, 0, 5, 6]
    assert b[0].tolist() == [0, 6, 8, 0, 6, 8, 0, 6, 8]
    assert torch.equal(a[1:], x[1:]) and torch.equal(b[1:], y[1:])  # 5 > 9 / 2 pairs, empty rows unchanged
    a, b = repeat_pad_pairs(x, y, "left", u)
    assert a[0].tolist() == [6, 5, 6, 5, 6, 5, 6, 5, 6]
    assert b[0].tolist() == [8, 6, 8, 6, 8, 6, 8, 6, 8]
    a, b = repeat_pad_pairs(x[:1].flip(1), y[:1].flip(1), "right", torch.tensor([0.0]), delimiter=True)
    assert a[0].tolist() == [6, 5, 0, 6, 5, 0, 0, 0, 0]


@pytest.mark.parametrize("delimiter", [False, True])
@pytest.mark.parametrize("side", ["left", "right"])
def test_matches_brute_force_reference(side, delimiter):
    rng = np.random.default_rng(0)
    width, n = 12, 80
    lengths = rng.integers(0, width + 1, n)
    x = np.zeros((n, width), dtype=np.int64)
    y = np.zeros((n, width), dtype=np.int64)
    for r, length in enumerate(lengths):
        cols = slice(width - length, width) if side == "left" else slice(0, length)
        x[r, cols] = rng.integers(2, 50, length)
        y[r, cols] = rng.integers(2, 50, length)
    u = torch.from_numpy(rng.random(n))
    a, b = repeat_pad_pairs(torch.from_numpy(x), torch.from_numpy(y), side, u, delimiter)
    most = extra_copies_allowed(torch.from_numpy(lengths), width)
    for r in range(n):
        m = int(most[r])
        assert m == (width // lengths[r] if lengths[r] and width // lengths[r] >= 2 else 0)
        copies = 1 if m == 0 else int(float(u[r]) * m) + 2  # random.randint(1, m) extra copies
        ex, ey = brute_reppad(x[r].tolist(), y[r].tolist(), width, copies, side, delimiter)
        assert a[r].tolist() == ex and b[r].tolist() == ey
        # every copy trains the row's own transitions (the first copy may be cut at the width)
        assert int((np.array(ey) != 0).sum()) >= min(copies - 1, 1) * int((y[r] != 0).sum())


def test_no_extra_copy_when_there_is_no_room():
    x = torch.tensor([[0, 0, 3, 4, 5]])
    y = torch.tensor([[0, 0, 4, 5, 6]])
    for delimiter in (False, True):
        a, b = repeat_pad_pairs(x, y, "left", torch.tensor([0.99]), delimiter)
        assert torch.equal(a, x) and torch.equal(b, y)  # 5 // 3 = 1 copy: no room (the paper's rule)


@pytest.fixture(scope="module")
def split():
    return random_split(3, 30, (3, 7), 25)


@pytest.mark.parametrize("cls,extra", [(SASRec, {"n_heads": 1}), (GRU4Rec, {})])
def test_models_train_with_reppad_deterministically(split, cls, extra):
    kwargs = {**TINY, **extra, "repeat_pad": True, "seed": 5}
    a = cls(**kwargs).fit(split.train, split.valid)
    b = cls(**kwargs).fit(split.train, split.valid)
    hist = Sequences.from_interactions(split.history("test"))
    sa, sb = a.score(hist), b.score(hist)
    assert torch.equal(sa, sb)
    assert a.config()["repeat_pad"] is True
    delimited = cls(**{**kwargs, "repeat_pad_delimiter": True}).fit(split.train, split.valid)
    assert not torch.equal(delimited.score(hist), sa)
    plain = cls(**{**kwargs, "repeat_pad": False}).fit(split.train, split.valid)
    assert not torch.equal(plain.score(hist), sa)  # RepPad changes what is learned
