"""The generate stage: every synthesizer honours the ``Synthesizer`` contract (small hand-made data)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch

from recaug import columns as C
from recaug.data import Interactions, Sequences
from recaug.errors import ConfigError, DataError, NotFittedError
from recaug.fuse import Fuser
from recaug.generate import (
    GANSynthesizer,
    SequenceSynthesizer,
    Synthesizer,
    VAESynthesizer,
    available,
    from_config,
    get_synthesizer,
)
from recaug.generate.sequence import reverse_time
from recaug.models.inputs import history_matrix
from recaug.split import LeaveLastOut, Split

N_ITEMS = 30
ITEM_SPACE = N_ITEMS + 2
N_CATEGORIES = 3
FAST = {"epochs": 2, "batch_size": 16, "device": "cpu", "progress": False}
SETTINGS: dict[str, dict] = {
    "vae": {"hidden_dims": [16], "latent_dim": 4, **FAST},
    "gan": {"hidden": 16, "noise_dim": 4, **FAST},
    "sequence": {"hidden": 8, "n_layers": 1, "n_heads": 1, "max_len": 10, **FAST},
}
NAMES = list(SETTINGS)


def category_of(item: np.ndarray | int) -> np.ndarray:
    """Items 2..31 in three categories of ten consecutive codes."""
    return (np.asarray(item) - C.N_RESERVED) // (N_ITEMS // N_CATEGORIES)


def make_log(seed: int = 0, n_users: int = 60) -> Interactions:
    """Users walk forward through a category's items (a planted chain), lengths 3..9."""
    rng = np.random.default_rng(seed)
    users, items = [], []
    for user in range(n_users):
        cat = user % N_CATEGORIES
        start = int(rng.integers(0, 10))
        for step in range(int(rng.integers(3, 10))):
            users.append(user)
            items.append(C.N_RESERVED + cat * 10 + (start + step) % 10)
    return Interactions.from_arrays(users, items)


ITEMS_TABLE = pl.DataFrame(
    {
        C.ITEM: np.arange(C.N_RESERVED, ITEM_SPACE, dtype=np.int32),
        C.CATEGORY: [f"c{c}" for c in category_of(np.arange(C.N_RESERVED, ITEM_SPACE))],
    }
)


def make(name: str, **extra: object) -> Synthesizer:
    return get_synthesizer(name)(**{**SETTINGS[name], **extra})


@pytest.fixture(scope="module")
def split() -> Split:
    return LeaveLastOut().split(make_log())


@pytest.fixture(scope="module")
def fitted(split: Split) -> dict[str, Synthesizer]:
    return {n: make(n).fit(split.train, item_space=ITEM_SPACE, items=ITEMS_TABLE) for n in NAMES}


def history_pairs(split: Split) -> set[tuple[int, int]]:
    f = split.train.frame
    return set(zip(f[C.USER].to_list(), f[C.ITEM].to_list(), strict=True))


# -- conformance ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_sample_shapes_ids_and_source(fitted, split, name):
    synth = fitted[name]
    out = synth.sample(25, seed=0)
    assert isinstance(out, Interactions)
    users = out.users
    first = int(split.train.users.max()) + 1
    assert synth.n_users_ == first
    assert set(np.unique(users)) == set(range(first, first + 25))  # new users after the real ones
    items = out.items
    assert items.min() >= C.N_RESERVED and items.max() < ITEM_SPACE
    assert set(items) <= set(split.train.items)  # only training items
    assert (out.frame[C.SOURCE] == name).all()
    # no repeated item within a synthetic user
    assert out.frame.select(C.USER, C.ITEM).is_unique().all()
    lengths = out.frame.group_by(C.USER).len()["len"]
    assert lengths.min() >= 1 and lengths.max() <= ITEM_SPACE


@pytest.mark.parametrize("name", NAMES)
def test_sample_seeds(fitted, name):
    synth = fitted[name]
    a, b, c = synth.sample(20, seed=3), synth.sample(20, seed=3), synth.sample(20, seed=4)
    assert a.equals(b)
    assert not a.equals(c)


@pytest.mark.parametrize("name", NAMES)
def test_user_streams_do_not_depend_on_batch(fitted, name):
    synth = fitted[name]
    small = synth.sample(5, seed=1)
    large = synth.sample(12, seed=1)
    assert large.filter(pl.col(C.USER) < synth.n_users_ + 5).equals(small)
    shifted = synth.sample(3, seed=1, first_user=synth.n_users_ + 2)
    assert large.filter(pl.col(C.USER).is_between(synth.n_users_ + 2, synth.n_users_ + 4)).equals(shifted)


@pytest.mark.parametrize("name", NAMES)
def test_save_load_same_sample(fitted, split, name, tmp_path):
    synth = fitted[name]
    synth.save(tmp_path / name)
    cfg = json.loads((tmp_path / name / "config.json").read_text())
    assert cfg["synthesizer"] == name and cfg["fitted"]["item_space"] == ITEM_SPACE
    loaded = Synthesizer.load(tmp_path / name)
    assert type(loaded) is type(synth)
    assert loaded.sample(15, seed=2).equals(synth.sample(15, seed=2))
    assert loaded.complete(split.train, 2, seed=2).equals(synth.complete(split.train, 2, seed=2))
    assert [h["epoch"] for h in loaded.loss_history_] == [h["epoch"] for h in synth.loss_history_]


@pytest.mark.parametrize("name", NAMES)
def test_complete_adds_k_new_items_before_history(fitted, split, name):
    synth = fitted[name]
    k = 4
    out = synth.complete(split.train, k, seed=0)
    assert (out.frame[C.SOURCE] == name).all()
    per_user = out.frame.group_by(C.USER).len()
    assert per_user.height == split.train.n_users
    assert (per_user["len"] == k).all()  # every user has >= k unseen training items here
    seen = history_pairs(split)
    assert not any((u, i) in seen for u, i in zip(out.users.tolist(), out.items.tolist(), strict=True))
    assert out.frame.select(C.USER, C.ITEM).is_unique().all()
    first = split.train.frame.group_by(C.USER).agg(pl.col(C.TIME).min().alias("t0"))
    joined = out.frame.join(first, on=C.USER)
    assert (joined[C.TIME] < joined["t0"]).all()  # placed before the user's first interaction
    # the fuser accepts the rows and never reports leaks
    fused, report = Fuser(only_users_with_at_most=5).fuse(split.train, out)
    assert len(fused.real()) == len(split.train)


@pytest.mark.parametrize("name", NAMES)
def test_complete_accepts_sequences_and_is_capped_by_catalogue(fitted, name):
    synth = fitted[name]
    seqs = Sequences.from_lists([[2, 3, 4], [5], []], users=[0, 1, 2])
    out = synth.complete(seqs, 3, seed=0)
    rows = out.frame.group_by(C.USER).len().sort(C.USER)
    assert rows["len"].to_list() == [3, 3, 3]
    assert not set(out.filter(pl.col(C.USER) == 0).items) & {2, 3, 4}
    # asking for more than the catalogue gives every unseen training item once
    full = synth.complete(Sequences.from_lists([[2, 3]], users=[0]), 1000, seed=0)
    n_train_items = int((synth.item_counts_ > 0).sum())
    assert len(full) == n_train_items - 2
    assert synth.complete(seqs, 0).frame.height == 0


@pytest.mark.parametrize("name", NAMES)
def test_not_fitted_and_empty_input(name, tmp_path):
    synth = make(name)
    with pytest.raises(NotFittedError):
        synth.sample(3)
    with pytest.raises(NotFittedError):
        synth.complete(make_log(), 2)
    with pytest.raises(NotFittedError):
        synth.save(tmp_path / "x")
    empty = Interactions.from_arrays([], [])
    with pytest.raises(DataError, match="empty"):
        synth.fit(empty)


@pytest.mark.parametrize("name", NAMES)
def test_bad_arguments(fitted, name):
    synth = fitted[name]
    with pytest.raises(ConfigError):
        synth.sample(-1)
    with pytest.raises(ConfigError):
        synth.complete(make_log(), -2)
    with pytest.raises(ConfigError, match="unknown condition"):
        synth.sample(2, condition={"colour": "red"})
    with pytest.raises(ConfigError, match="unknown categor"):
        synth.sample(2, condition={"category": "nope"})
    assert len(synth.sample(0)) == 0


@pytest.mark.parametrize("name", NAMES)
def test_category_condition_restricts_items(fitted, name):
    out = fitted[name].sample(30, seed=0, condition={"category": "c1"})
    assert len(out) > 0
    assert (category_of(out.items) == 1).mean() == 1.0


def test_category_condition_needs_items(split):
    synth = make("vae").fit(split.train, item_space=ITEM_SPACE)
    with pytest.raises(ConfigError, match="items"):
        synth.sample(2, condition={"category": "c0"})


LEAKAGE_CASES = [(n, {}) for n in NAMES] + [(n, {"holdout_users": 20}) for n in ("vae", "gan")]


def shift(part: Interactions) -> Interactions:
    """The same rows with other items."""
    return Interactions(part.frame.with_columns(((pl.col(C.ITEM) - 1) % N_ITEMS + C.N_RESERVED).alias(C.ITEM)))


def generate_stage(split: Split, name: str, extra: dict, mode: str, folder: Path) -> pl.DataFrame:
    """What the pipeline's generate stage writes for ``split`` (it gets the whole split folder)."""
    from recaug.cli._flow import write_split
    from recaug.data.dataset import Dataset
    from recaug.data.vocabulary import Vocabulary
    from recaug.pipeline.config import GenerateConfig
    from recaug.pipeline.stages import run_generate

    write_split(split, folder / "split")
    everything = split.train.concat(split.valid).concat(split.test)
    vocab = Vocabulary([str(u) for u in range(everything.n_users)], [str(i) for i in range(N_ITEMS)])
    Dataset(everything, vocab, items=ITEMS_TABLE).save(folder / "data" / "dataset")
    params = {k: v for k, v in {**SETTINGS[name], **extra}.items() if k != "device"}  # a stage setting
    params["threads"] = 1
    cfg = GenerateConfig(method=name, params=params, mode=mode, complete_max_history=100)
    (folder / "out").mkdir()
    run_generate(cfg, folder / "split", folder / "data", 0, folder / "out")
    return pl.read_parquet(folder / "out" / "synthetic.parquet")


@pytest.mark.parametrize(("name", "extra"), LEAKAGE_CASES)
def test_leakage_fit_on_train_only(split, name, extra, tmp_path):
    """Same train, different held-out items => identical generate-stage output (also when the
    number of epochs is picked on held-back training users). The stage gets the whole split;
    completion exercises both what it fits on and which histories it completes."""
    other = Split(split.train, shift(split.valid), shift(split.test), split.protocol)
    assert not other.test.equals(split.test) and not other.valid.equals(split.valid)
    a = generate_stage(split, name, extra, "complete", tmp_path / "a")
    b = generate_stage(other, name, extra, "complete", tmp_path / "b")
    assert len(a) > 0 and a.equals(b)
    if not extra:  # power: held-out items are common training items, reading them changes the output
        leaky_a = make(name, threads=1).fit(split.train.concat(split.valid), item_space=ITEM_SPACE)
        leaky_b = make(name, threads=1).fit(other.train.concat(other.valid), item_space=ITEM_SPACE)
        assert not leaky_a.complete(split.train, 3, seed=0).equals(leaky_b.complete(other.train, 3, seed=0))


# -- registry -----------------------------------------------------------------------------------
def test_registry_and_from_config():
    assert set(NAMES) <= set(available())
    assert isinstance(from_config({"method": "vae", "latent_dim": 3}), VAESynthesizer)
    assert isinstance(from_config({"name": "gan"}), GANSynthesizer)
    assert isinstance(from_config({"method": "sequence", "direction": "forward"}), SequenceSynthesizer)
    with pytest.raises(ConfigError, match="unknown synthesizer"):
        get_synthesizer("diffusion")
    with pytest.raises(ConfigError, match="unknown key"):
        from_config({"method": "vae", "latentdim": 3})
    with pytest.raises(ConfigError, match="method"):
        from_config({"latent_dim": 3})
    with pytest.raises(ConfigError):
        from_config({"method": "sequence", "direction": "sideways"})
    for name in NAMES:
        synth = make(name)
        again = from_config({"method": name, **synth.config()})
        assert again.config() == synth.config()


# -- model-specific -----------------------------------------------------------------------------
def test_gan_loss_history_has_both_players(fitted):
    hist = fitted["gan"].loss_history_
    assert len(hist) == FAST["epochs"]
    for row in hist:
        assert {"g_loss", "d_loss", "d_acc"} <= set(row)
        assert 0.0 <= row["d_acc"] <= 1.0 and np.isfinite(row["g_loss"]) and np.isfinite(row["d_loss"])


def test_vae_loss_history(fitted):
    hist = fitted["vae"].loss_history_
    assert [h["epoch"] for h in hist] == [1, 2] and all(np.isfinite(h["loss"]) for h in hist)


def test_gan_noise_condition(split):
    synth = make("gan", new_user_condition="noise").fit(split.train, item_space=ITEM_SPACE)
    out = synth.sample(10, seed=0)
    assert out.n_users == 10 and out.items.min() >= C.N_RESERVED


def test_vae_learns_category_structure(split):
    """Users live in one category: a trained VAE completes them inside it."""
    synth = make(
        "vae", epochs=50, lr=3e-3, latent_dim=8, hidden_dims=[32], beta=0.2, complete_temperature=0.0
    ).fit(split.train, item_space=ITEM_SPACE)
    out = synth.complete(split.train, 2, seed=0)
    user_cat = out.users % N_CATEGORIES
    assert (category_of(out.items) == user_cat).mean() > 0.75  # chance: 1/3


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gan_learns_category_structure(seed):
    """Users live in one category: a trained CFGAN completes them inside it, for every seed (with a
    sigmoid output and an equally fast discriminator, D won and seeds 1-2 ended near chance)."""
    split = LeaveLastOut().split(make_log(n_users=300))
    synth = make("gan", epochs=20, lr=1e-3, hidden=32, complete_temperature=0.0, seed=seed)
    synth.fit(split.train, item_space=ITEM_SPACE)
    out = synth.complete(split.train, 2, seed=0)
    assert (category_of(out.items) == out.users % N_CATEGORIES).mean() > 0.75  # chance: 1/3


# -- picking the number of epochs on held-back training users -----------------------------------
def test_holdout_holds_back_each_users_last_training_item(split):
    synth = make("gan", holdout_users=12, seed=3)
    rest, (histories, targets) = synth._split_holdout(split.train)
    train = Sequences.from_interactions(split.train)
    assert len(targets) == 12 and len(set(histories.users.tolist())) == 12
    for user, target, hist in zip(histories.users, targets, histories.to_lists(), strict=True):
        own = train[int(np.searchsorted(train.users, user))].tolist()
        assert target == own[-1]  # the latest training item
        assert hist == [i for i in own if i != target]
    # the training rows lose exactly the held-back (user, item) pairs, nothing else
    held = set(zip(histories.users.tolist(), targets.tolist(), strict=True))
    kept = set(zip(rest.users.tolist(), rest.items.tolist(), strict=True))
    assert kept == history_pairs(split) - held
    again = make("gan", holdout_users=12, seed=3)._split_holdout(split.train)[1]
    other = make("gan", holdout_users=12, seed=4)._split_holdout(split.train)[1]
    assert np.array_equal(again[0].users, histories.users)
    assert not np.array_equal(other[0].users, histories.users)


@pytest.mark.parametrize("name", ["vae", "gan"])
def test_holdout_keeps_the_best_epoch_and_stops(split, name, tmp_path):
    synth = make(name, epochs=40, holdout_users=30, patience=2, lr=3e-3).fit(split.train, item_space=ITEM_SPACE)
    hist = synth.loss_history_
    metrics = [h["metric"] for h in hist]
    assert all(m is not None and 0.0 <= m <= 1.0 for m in metrics)
    assert synth.best_epoch_ == int(np.argmax(metrics)) + 1
    assert len(hist) == synth.best_epoch_ + 2 < 40  # stopped after `patience` epochs without a gain
    assert synth.config()["holdout_users"] == 30
    assert Synthesizer.load(synth.save(tmp_path / name)).best_epoch_ == synth.best_epoch_


def test_holdout_restores_the_best_epochs_weights(split):
    """The kept generator is the one of the best epoch: retraining for exactly that many epochs
    (same seed, same held-back users) completes users identically."""
    settings = {"epochs": 40, "holdout_users": 30, "patience": 2, "lr": 3e-3}
    best = make("gan", **settings).fit(split.train, item_space=ITEM_SPACE)
    assert best.best_epoch_ < len(best.loss_history_)
    short = make("gan", **{**settings, "epochs": best.best_epoch_}).fit(split.train, item_space=ITEM_SPACE)
    assert best.complete(split.train, 3, seed=0).equals(short.complete(split.train, 3, seed=0))


def test_holdout_settings_are_checked():
    with pytest.raises(ConfigError, match="holdout_users"):
        make("vae", holdout_users=-1)
    with pytest.raises(ConfigError, match="patience"):
        make("gan", holdout_users=5, patience=0)


def test_vae_greedy_completion_decodes_the_posterior_mean(split):
    """``complete_temperature=0``: the top unseen items of decode(mu), whatever the seed."""
    synth = make("vae", epochs=3, latent_dim=8, hidden_dims=[32], complete_temperature=0.0)
    synth.fit(split.train, item_space=ITEM_SPACE)
    a = synth.complete(split.train, 2, seed=0).frame.sort([C.USER, C.ITEM])
    b = synth.complete(split.train, 2, seed=1).frame.sort([C.USER, C.ITEM])
    assert a.select(C.USER, C.ITEM).equals(b.select(C.USER, C.ITEM))
    user = int(a[C.USER][0])
    hist = split.train.frame.filter(pl.col(C.USER) == user)[C.ITEM].to_list()
    x = torch.zeros(1, ITEM_SPACE)
    x[0, hist] = 1.0
    with torch.no_grad():
        mu, _ = synth.net_.encode(x)
        logits = synth.net_.decode(mu)[0]
    logits[hist] = -float("inf")
    logits[: C.N_RESERVED] = -float("inf")
    expected = set(torch.topk(logits, 2).indices.tolist())
    assert set(a.filter(pl.col(C.USER) == user)[C.ITEM].to_list()) == expected


def test_reverse_time_reverses_each_user():
    inter = Interactions.from_arrays([0, 0, 0, 1, 1], [2, 3, 4, 5, 6], [10, 20, 30, 5, 6])
    rev = Sequences.from_interactions(reverse_time(inter)).to_lists()
    assert rev == [[4, 3, 2], [6, 5]]


def test_sequence_directions_place_rows(split):
    fwd = make("sequence", direction="forward").fit(split.train, item_space=ITEM_SPACE)
    out = fwd.complete(split.train, 2, seed=0)
    last = split.train.frame.group_by(C.USER).agg(pl.col(C.TIME).max().alias("t1"))
    joined = out.frame.join(last, on=C.USER)
    assert (joined[C.TIME] > joined["t1"]).all()
    assert (fwd.sample(5, seed=0).frame[C.SOURCE] == "sequence").all()


def test_sequence_greedy_completion_prepends_the_top_scoring_item(fitted, split):
    """Default ``complete_temperature=0``: the reversed model's argmax, whatever the seed."""
    synth = fitted["sequence"]
    assert synth.complete_temperature == 0.0
    a = synth.complete(split.train, 1, seed=0)
    assert a.frame.select(C.USER, C.ITEM).equals(synth.complete(split.train, 1, seed=5).frame.select(C.USER, C.ITEM))
    user = int(a.users[0])
    hist = split.train.frame.filter(pl.col(C.USER) == user).sort(C.TIME)[C.ITEM].to_list()
    scores = synth.model_.score(Sequences.from_lists([hist[::-1]], users=[user]))[0].clone()
    scores[hist] = -torch.inf
    scores[torch.from_numpy(~synth.allowed_items())] = -torch.inf
    assert int(a.items[0]) == int(torch.argmax(scores))


def test_sequence_tempered_completion_depends_on_the_seed(split):
    synth = make("sequence", complete_temperature=5.0).fit(split.train, item_space=ITEM_SPACE)
    a = synth.complete(split.train, 3, seed=0).frame.select(C.USER, C.ITEM)
    assert a.equals(synth.complete(split.train, 3, seed=0).frame.select(C.USER, C.ITEM))
    assert not a.equals(synth.complete(split.train, 3, seed=1).frame.select(C.USER, C.ITEM))


@pytest.mark.parametrize("name", ["vae", "gan"])
def test_complete_min_prob_keeps_only_confident_items(split, name):
    """``complete_min_prob=p`` (greedy): exactly the ungated completions whose probability is >= p."""
    params = {"vae": {"epochs": 3, "latent_dim": 8, "hidden_dims": [32]}, "gan": {"epochs": 2, "hidden": 32}}[name]
    free = make(name, complete_temperature=0.0, **params).fit(split.train, item_space=ITEM_SPACE)
    base = free.complete(split.train, 3, seed=0).frame.select(C.USER, C.ITEM)
    state = free.state_dict()
    seqs = Sequences.from_interactions(split.train)
    noise_seed = free._stream_seed(0)  # what complete(seed=0) feeds the GAN's noise
    with torch.no_grad():  # the model's own scores, row by row (the library scores whole chunks)
        logits = [free._logits_given(history_matrix(seqs, ITEM_SPACE)[i], seqs.users[i : i + 1], noise_seed)[0]
                  for i in range(len(seqs))]  # fmt: skip
    probs = torch.softmax(torch.stack(logits).float(), dim=1)
    row = {int(u): i for i, u in enumerate(seqs.users)}

    def prob(user: int, item: int) -> float:
        """The item's probability among the items that may be added (not in the history)."""
        p = probs[row[user]].clone()
        p[split.train.frame.filter(pl.col(C.USER) == user)[C.ITEM].to_list() + list(range(C.N_RESERVED))] = 0.0
        return float(p[item] / p.sum())

    base = base.with_columns(pl.Series("p", [prob(u, i) for u, i in base.iter_rows()]))
    values = sorted(set(base["p"].round(6).to_list()))
    mid = len(values) // 2  # a gate halfway between two neighbouring probabilities: no float ties
    gate = (values[mid - 1] + values[mid]) / 2
    for min_prob in (0.0, gate, 0.99):
        gated = make(name, complete_temperature=0.0, complete_min_prob=min_prob, **params)
        gated.fit(split.train, item_space=ITEM_SPACE)
        assert all(torch.equal(state[k], v) for k, v in gated.state_dict().items())  # the same fitted model
        out = gated.complete(split.train, 3, seed=0).frame.select(C.USER, C.ITEM)
        # greedy: exactly the ungated items whose probability reaches the gate
        expected = base.filter(pl.col("p") >= min_prob).select(C.USER, C.ITEM)
        assert out.sort([C.USER, C.ITEM]).equals(expected.sort([C.USER, C.ITEM]))
    assert 0 < len(base.filter(pl.col("p") >= gate)) < len(base)  # the middle gate keeps some, not all


def test_complete_min_prob_is_checked():
    with pytest.raises(ConfigError, match="complete_min_prob"):
        make("vae", complete_min_prob=1.0)
    with pytest.raises(ConfigError, match="complete_min_prob"):
        make("gan", complete_min_prob=-0.1)
