"""Online augmentation and contrastive training (CL4SRec / DuoRec) inside SASRec / GRU4Rec."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from conftest import random_split
from recaug import columns as C
from recaug.data.sequences import Sequences
from recaug.errors import ConfigError
from recaug.expand import Crop, Insert, expand_training, from_config, training_fingerprint
from recaug.models import GRU4Rec, SASRec, sequential
from recaug.models.base import Recommender
from recaug.models.contrastive import TargetIndex, represent, same_matrix, same_target_partners, spans
from recaug.models.losses import info_nce
from recaug.models.training import validation_data, validation_score

torch.set_num_threads(1)

TINY = {"hidden": 8, "n_layers": 1, "n_heads": 1, "max_len": 8, "epochs": 2, "batch_size": 8}
TINY.update(device="cpu", progress=False, threads=1)


def brute_info_nce(a: torch.Tensor, b: torch.Tensor, t: float, same: torch.Tensor | None = None) -> float:
    """Per-row loop: -log softmax of the positive over the unblocked others."""
    z = torch.cat([a, b]).double()
    n = len(a)
    total = 0.0
    for i in range(2 * n):
        pos = (i + n) % (2 * n)
        terms = []
        for j in range(2 * n):
            if j == i:
                continue
            if j != pos and same is not None and bool(same[i % n, j % n]):
                continue
            terms.append(float(z[i] @ z[j]) / t)
        total += -(float(z[i] @ z[pos]) / t - math.log(sum(math.exp(v) for v in terms)))
    return total / (2 * n)


@pytest.fixture(scope="module")
def split():
    return random_split(3, 40, (4, 9), 30)


# -- InfoNCE --------------------------------------------------------------------------------
def test_info_nce_identical_views_orthogonal_negatives_is_near_minimum():
    n, scale = 4, 6.0
    a = torch.eye(n) * scale
    loss = float(info_nce(a, a.clone(), 1.0))
    # positive logit scale^2, 2n - 2 negatives at 0: log(1 + (2n-2) e^{-scale^2}) ~ 0 (the minimum)
    assert loss == pytest.approx(math.log1p((2 * n - 2) * math.exp(-(scale**2))), rel=1e-4)
    assert loss < 1e-12
    unit = float(info_nce(torch.eye(n), torch.eye(n), 1.0))
    assert unit == pytest.approx(math.log(math.e + 2 * n - 2) - 1.0, rel=1e-6)
    # a swapped positive is much worse
    assert float(info_nce(a, a.roll(1, dims=0), 1.0)) > 10


@pytest.mark.parametrize("temperature", [1.0, 0.5])
def test_info_nce_matches_brute_force(temperature):
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g)
    got = float(info_nce(a, b, temperature))
    assert got == pytest.approx(brute_info_nce(a, b, temperature), rel=1e-5)
    same = same_matrix(torch.tensor([7, 8, 7, 9, 8]))
    got = float(info_nce(a, b, temperature, same=same))
    assert got == pytest.approx(brute_info_nce(a, b, temperature, same), rel=1e-5)
    assert float(info_nce(a[:0], b[:0])) == 0.0


# -- DuoRec positives -----------------------------------------------------------------------
def test_duorec_partners_share_the_next_item_and_are_never_self():
    targets = torch.tensor([5, 7, 5, 9, 7, 5])
    seen = {i: set() for i in range(6)}
    for s in range(60):
        p = same_target_partners(targets, torch.Generator().manual_seed(s))
        for i, j in enumerate(p.tolist()):
            seen[i].add(j)
    assert seen == {0: {2, 5}, 1: {4}, 2: {0, 5}, 3: {-1}, 4: {1}, 5: {0, 2}}
    # queries outside the pool: any pool row with the same target, -1 where none
    p = same_target_partners(torch.tensor([7, 4]), torch.Generator().manual_seed(0), pool=targets)
    assert p.tolist() == [p[0].item(), -1] and p[0].item() in (1, 4)
    # a query row whose own target changed (augmented) may pick any row with the new target
    idx = TargetIndex(targets)
    got = idx.partners(torch.tensor([9]), torch.tensor([0]), torch.Generator().manual_seed(0))
    assert got.tolist() == [3]


def test_spans_handle_gaps_and_both_sides():
    x = torch.tensor([[0, 0, 3, 0, 4], [0, 0, 0, 0, 0], [2, 3, 4, 5, 6]])
    assert spans(x, "left").tolist() == [3, 0, 5]
    assert spans(x.flip(1), "right").tolist() == [3, 0, 5]


# -- SASRec with contrastive / online augmentation ------------------------------------------
VARIANTS = {
    "cl4srec-bce": {"contrastive": "cl4srec", "loss": "bce"},
    "duorec-ce": {"contrastive": "duorec", "loss": "ce"},
    "online-ce": {"augmenter": {"op": "one_of", "ops": [{"op": "crop"}, {"op": "mask"}]}, "loss": "ce"},
    "online+cl-bce": {"augmenter": {"op": "reorder"}, "aug_prob": 1.0, "n_views": 2, "contrastive": "duorec"},
}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_sasrec_augmented_fits_deterministic_and_roundtrips(split, name, tmp_path):
    params = {**TINY, **VARIANTS[name]}
    a = SASRec(seed=3, **params).fit(split.train, split.valid)
    b = SASRec(seed=3, **params).fit(split.train, split.valid)
    assert all(np.isfinite(h["loss"]) for h in a.history_)
    assert [h["loss"] for h in a.history_] == [h["loss"] for h in b.history_]
    hist = Sequences.from_interactions(split.history("test"))
    scores = a.score(hist)
    torch.testing.assert_close(scores, b.score(hist))
    loaded = Recommender.load(a.save(tmp_path / name))
    assert loaded.config() == a.config()
    torch.testing.assert_close(loaded.score(hist), scores)
    plain = SASRec(seed=3, **{**TINY, "loss": params.get("loss", "bce")}).fit(split.train, split.valid)
    assert [h["loss"] for h in plain.history_] != [h["loss"] for h in a.history_]


def test_contrastive_changes_the_loss_by_its_weight(split):
    base = {**TINY, "epochs": 1, "contrastive": "cl4srec", "loss": "ce"}
    off = SASRec(seed=0, **{**base, "cl_weight": 0.0}).fit(split.train)
    on = SASRec(seed=0, **base).fit(split.train)
    assert on.history_[0]["loss"] > off.history_[0]["loss"]


def test_gru4rec_accepts_online_augmentation_and_duorec(split, tmp_path):
    model = GRU4Rec(hidden=8, max_len=8, epochs=2, device="cpu", progress=False, threads=1,
                    augmenter={"op": "crop"}, contrastive="duorec")  # fmt: skip
    model.fit(split.train)
    hist = Sequences.from_interactions(split.history("test"))
    torch.testing.assert_close(Recommender.load(model.save(tmp_path / "g")).score(hist), model.score(hist))


def test_bad_settings_are_rejected():
    with pytest.raises(ConfigError):
        SASRec(contrastive="simclr")
    with pytest.raises(ConfigError):
        SASRec(aug_prob=1.5)
    with pytest.raises(ConfigError):
        SASRec(augmenter={"op": "nope"})
    with pytest.raises(ConfigError):
        SASRec(cl_temperature=0.0)


# -- leakage guard --------------------------------------------------------------------------
class _Spy(Crop):
    """A crop that records what ``fit`` received."""

    def fit(self, train):
        self.received = train
        return super().fit(train)


def test_augmenter_is_fitted_on_training_data_only(split):
    insert = Insert(mode="correlated")
    model = SASRec(seed=0, augmenter=insert, **TINY).fit(split.train, split.valid)
    assert model.augmenter is insert
    assert insert.similarity.fingerprint_ == training_fingerprint(split.train)
    assert insert.similarity.fingerprint_ != training_fingerprint(split.history("test"))
    spy = _Spy()
    SASRec(seed=0, augmenter=spy, **TINY).fit(split.train, split.valid)
    assert spy.received is split.train
    held_out = set(zip(split.test.users.tolist(), split.test.items.tolist(), strict=True))
    got = set(zip(spy.received.users.tolist(), spy.received.items.tolist(), strict=True))
    train = set(zip(split.train.users.tolist(), split.train.items.tolist(), strict=True))
    assert got == train and not (held_out - train) & got


def test_offline_expanded_rows_train_and_keep_validation_on_real_histories(split, monkeypatch):
    expanded = expand_training(split.train, from_config({"op": "repeat_pad", "max_len": 9}), seed=0)
    seen = {}
    loop = sequential.fit_loop

    def recording(model, module, batch_loss, n_rows, config, **kw):
        seen.update(n_rows=n_rows, valid=kw["valid"])
        return loop(model, module, batch_loss, n_rows, config, **kw)

    monkeypatch.setattr(sequential, "fit_loop", recording)
    model = SASRec(seed=0, **TINY).fit(split.train, split.valid, sequences=expanded)
    # the training rows are the expanded rows (each has a next item), not one row per user
    assert seen["n_rows"] == len(expanded.sequences) > split.train.n_users
    plain = SASRec(seed=0, **TINY).fit(split.train, split.valid)
    assert [h["loss"] for h in plain.history_] != [h["loss"] for h in model.history_]
    # validation: every validation user's real training history, and its validation item
    histories, targets = validation_data(split.train, split.valid)
    assert seen["valid"][0].equals(histories) and np.array_equal(seen["valid"][1], targets)
    # the recorded metrics are the ranking of those targets given those histories: scoring the
    # kept weights again gives the kept epoch's metric
    kept = model.history_[model.best_epoch_ - 1]["metric"]
    assert kept == max(h["metric"] for h in model.history_)
    assert validation_score(model, histories, targets, "NDCG@10") == pytest.approx(kept, abs=1e-12)
    masked = Sequences.from_lists([[2, C.MASK_ID, 4, 5], [3, 4]], users=[0, 1])
    SASRec(seed=0, **TINY).fit(split.train, sequences=masked)


# -- what CL4SRec contrasts ------------------------------------------------------------------
def test_represent_mean_and_concat_by_hand_and_padding_side_free():
    items = [[3, 4, 5], [6]]
    width = 4
    left = torch.tensor([[0, 3, 4, 5], [0, 0, 0, 6]])
    right = torch.tensor([[3, 4, 5, 0], [6, 0, 0, 0]])
    state = {3: 1.0, 4: 2.0, 5: 4.0, 6: 8.0}  # a "network" whose state depends on the item only

    def hidden(x):  # PAD positions get a non-zero state: zeros in the output come from masking
        return torch.tensor([[[state.get(int(v), -7.0), 10.0 * state.get(int(v), -7.0)] for v in row] for row in x])

    for x, side in ((left, "left"), (right, "right")):
        span = spans(x, side)
        mean = represent(hidden(x), x, span, side, "mean", width)
        torch.testing.assert_close(mean, torch.tensor([[7 / 3, 70 / 3], [8.0, 80.0]]))
        concat = represent(hidden(x), x, span, side, "concat", width)
        expected = torch.zeros(2, width, 2)
        for r, seq in enumerate(items):
            for j, v in enumerate(seq):
                expected[r, width - len(seq) + j] = torch.tensor([state[v], 10 * state[v]])
        torch.testing.assert_close(concat, expected.reshape(2, -1))
        last = represent(hidden(x), x, span, side, "last", width)
        torch.testing.assert_close(last, torch.tensor([[4.0, 40.0], [8.0, 80.0]]))
    # a trimmed row (narrower than ``width``) is placed in the last columns
    trimmed = left[:, 1:]
    got = represent(hidden(trimmed), trimmed, spans(trimmed, "left"), "left", "concat", width)
    torch.testing.assert_close(got, represent(hidden(left), left, spans(left, "left"), "left", "concat", width))


@pytest.mark.parametrize("contrastive", ["cl4srec", "duorec"])
@pytest.mark.parametrize("kind", ["mean", "concat"])
def test_representation_trains_deterministically_and_differs_from_last(split, kind, contrastive):
    base = {**TINY, "epochs": 1, "contrastive": contrastive, "loss": "bce"}
    a = SASRec(seed=1, cl_representation=kind, **base).fit(split.train)
    b = SASRec(seed=1, cl_representation=kind, **base).fit(split.train)
    last = SASRec(seed=1, cl_representation="last", **base).fit(split.train)
    assert a.config()["cl_representation"] == kind
    assert [h["loss"] for h in a.history_] == [h["loss"] for h in b.history_]
    assert [h["loss"] for h in a.history_] != [h["loss"] for h in last.history_]
    gru = GRU4Rec(hidden=8, max_len=8, epochs=1, device="cpu", progress=False, threads=1,
                  contrastive=contrastive, cl_representation=kind)  # fmt: skip
    gru_last = GRU4Rec(hidden=8, max_len=8, epochs=1, device="cpu", progress=False, threads=1,
                       contrastive=contrastive, cl_representation="last")  # fmt: skip
    loss = gru.fit(split.train).history_[0]["loss"]
    assert np.isfinite(loss) and loss != gru_last.fit(split.train).history_[0]["loss"]


def test_default_representation_is_concat_for_cl4srec_and_last_otherwise():
    assert SASRec(contrastive="cl4srec").config()["cl_representation"] == "concat"
    assert SASRec(contrastive="duorec").config()["cl_representation"] == "last"
    assert SASRec().config()["cl_representation"] == "last"
    assert GRU4Rec(contrastive="cl4srec").config()["cl_representation"] == "concat"


def test_bad_representation_is_rejected():
    with pytest.raises(ConfigError, match="cl_representation"):
        SASRec(contrastive="cl4srec", cl_representation="sum")
    with pytest.raises(ConfigError, match="cl_representation"):
        SASRec(contrastive="duorec", cl_representation="first")


def test_model_saved_before_cl_representation_loads_with_the_last_state(split, tmp_path):
    """Such models contrasted the last state; the newer default (concat) must not change a refit."""
    model = SASRec(seed=0, contrastive="cl4srec", **{**TINY, "epochs": 1}).fit(split.train)
    path = model.save(tmp_path / "old")
    saved = json.loads((path / "config.json").read_text())
    del saved["config"]["cl_representation"]
    (path / "config.json").write_text(json.dumps(saved))
    loaded = Recommender.load(path)
    assert loaded.config()["cl_representation"] == "last"
    assert Recommender.load(model.save(tmp_path / "new")).config()["cl_representation"] == "concat"
