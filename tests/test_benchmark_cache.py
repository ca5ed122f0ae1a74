"""benchmarks/_cache.py: a fit is reused only for the same settings and the same committed code."""

from __future__ import annotations

import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from conftest import load_benchmark, random_split
from recaug.data.sequences import Sequences
from recaug.models import BPRMF, Recommender

cache = load_benchmark("_cache")


def test_entry_key_needs_named_code_and_follows_every_setting():
    assert cache.entry_key("control", {"seed": 0}, None) is None
    assert cache.entry_key("control", {"seed": 0}, "abc1234-dirty") is None
    key = cache.entry_key("control", {"seed": 0, "model": "bpr"}, "abc1234")
    assert key == cache.entry_key("control", {"model": "bpr", "seed": 0}, "abc1234")  # order-free
    assert key != cache.entry_key("control", {"seed": 1, "model": "bpr"}, "abc1234")
    assert key != cache.entry_key("control", {"seed": 0, "model": "bpr"}, "def5678")
    assert key != cache.entry_key("synthesizer", {"seed": 0, "model": "bpr"}, "abc1234")


def test_fitted_reuses_a_saved_fit(tmp_path: Path):
    split = random_split(0, 20, (4, 8), 30)
    calls: list[int] = []

    def fit():
        calls.append(1)
        return BPRMF(epochs=2, dim=8).fit(split.train, item_space=30), {"fit": 1.5}

    first, meta, hit = cache.fitted(tmp_path, "control", {"seed": 0}, "abc1234", fit, Recommender.load)
    assert (meta, hit, len(calls)) == ({"fit": 1.5}, False, 1)
    again, meta, hit = cache.fitted(tmp_path, "control", {"seed": 0}, "abc1234", fit, Recommender.load)
    assert (meta, hit, len(calls)) == ({"fit": 1.5}, True, 1)
    histories = Sequences.from_interactions(split.train)
    assert torch.equal(first.score(histories), again.score(histories))
    cache.fitted(tmp_path, "control", {"seed": 0}, "abc1234-dirty", fit, Recommender.load)
    cache.fitted(None, "control", {"seed": 0}, "abc1234", fit, Recommender.load)
    assert len(calls) == 3  # neither a dirty tree nor a run without --cache reads the cache
    assert len(list(tmp_path.iterdir())) == 1


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", *args], cwd=repo, check=True,
                   capture_output=True)  # fmt: skip


def test_code_version_follows_committed_src_only(tmp_path: Path):
    assert cache.code_version(tmp_path) is None  # not a git repository
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "lib.py").write_text("x = 1\n")
    (tmp_path / "bench.py").write_text("run()\n")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-qm", "one")
    first = cache.code_version(tmp_path)
    assert first is not None and first.startswith("src-")
    (tmp_path / "bench.py").write_text("run(fast=True)\n")  # a benchmark edit keeps the fits
    assert cache.code_version(tmp_path) == first
    (tmp_path / "src" / "lib.py").write_text("x = 2\n")
    assert cache.code_version(tmp_path) is None  # uncommitted library code has no name
    _git(tmp_path, "commit", "-qam", "two")
    assert cache.code_version(tmp_path) not in (None, first)


def test_file_digest_follows_the_bytes(tmp_path: Path):
    data = tmp_path / "d.txt"
    data.write_text("1 2 3\n")
    first = cache.file_digest(data)
    assert cache.file_digest(data) == first
    data.write_text("1 2 4\n")
    assert cache.file_digest(data) != first


def test_synthesizer_key_ignores_how_the_recommenders_train():
    gu = load_benchmark("generate_utility")
    base = dict(dataset="toys", data_digest="d", quick=False, quick_users=None, epochs=200, patience=5,
                eval_every=2, threads=1, device="cpu")  # fmt: skip
    longer = {**base, "patience": 20, "epochs": 400, "eval_every": 1}
    a, b = SimpleNamespace(**base), SimpleNamespace(**longer)
    assert gu.synth_settings(a, 0) == gu.synth_settings(b, 0)  # the same synthesizer, reused
    assert gu.run_settings(a, 0) != gu.run_settings(b, 0)  # but not the same control
    assert gu.synth_settings(a, 0) != gu.synth_settings(a, 1)
    assert gu.synth_settings(a, 0) != gu.synth_settings(SimpleNamespace(**{**base, "data_digest": "e"}), 0)


def test_fit_model_records_the_epoch_it_kept():
    """A run's row says which epoch early stopping kept, so an under-trained control shows."""
    gu = load_benchmark("generate_utility")
    split = random_split(0, 30, (4, 8), 40)
    args = SimpleNamespace(epochs=4, patience=10, eval_every=1, threads=1, device="cpu")
    model, secs = gu.fit_model("bpr", split.train, split, 0, args, item_space=40)
    assert secs["epochs_run"] == 4
    assert secs["best_epoch"] == model.best_epoch_
    assert 1 <= secs["best_epoch"] <= 4
    assert secs["epochs_total"] == pytest.approx(sum(h["seconds"] for h in model.history_ if "seconds" in h))
    assert secs["per_epoch"] == pytest.approx(secs["epochs_total"] / 4)


def test_fit_model_checkpoints_each_fit_under_its_own_name(tmp_path: Path, monkeypatch):
    """With ``--cache``, every fit saves its state under a name of its settings, data and arm."""
    gu = load_benchmark("generate_utility")
    split = random_split(0, 30, (4, 8), 40)
    base = {"epochs": 2, "patience": 10, "eval_every": 1, "threads": 1, "device": "cpu", "dataset": "d",
            "data_digest": "x", "quick": False, "quick_users": 0}  # fmt: skip
    used: list[str | None] = []
    real_fit = BPRMF.fit

    def spy(self, *a, **kw):
        used.append(self.train_config.checkpoint)
        return real_fit(self, *a, **kw)

    monkeypatch.setattr(BPRMF, "fit", spy)
    args = SimpleNamespace(**base, cache=tmp_path, code="src-abc")
    gu.fit_model("bpr", split.train, split, 0, args, 40, checkpoint={"arm": "+vae"})
    gu.fit_model("bpr", split.train, split, 0, args, 40, checkpoint={"arm": "+gan"})
    gu.fit_model("bpr", split.valid, split, 0, args, 40, checkpoint={"arm": "+vae"})
    gu.fit_model("bpr", split.train, split, 0, SimpleNamespace(**base, cache=None, code=None), 40, checkpoint={})
    gu.fit_model("bpr", split.train, split, 0, args, 40)
    assert all(Path(p).parent == tmp_path for p in used[:3]) and len(set(used[:3])) == 3
    assert used[3:] == [None, None]
    assert not list(tmp_path.iterdir())  # finished fits leave no checkpoint behind


def test_expand_accuracy_caches_by_library_code_and_settings(tmp_path: Path):
    expand = load_benchmark("expand_accuracy")
    args = SimpleNamespace(code="src-abc", cache_dir=tmp_path, device="cpu", quick=False, quick_users=10, users=None,
                           offline_policy="cmr")  # fmt: skip
    params = {**expand.SASREC, "loss": "bce"}
    path = expand.cache_path(args, "beauty", "sasrec-bce", 0, params)
    assert path.parent == tmp_path
    assert path == expand.cache_path(args, "beauty", "sasrec-bce", 0, dict(params))
    assert path != expand.cache_path(SimpleNamespace(**{**vars(args), "code": "src-def"}), "beauty", "sasrec-bce", 0,
                                      params)  # fmt: skip
    assert path != expand.cache_path(args, "beauty", "sasrec-bce", 1, params)
    assert path != expand.cache_path(SimpleNamespace(**{**vars(args), "users": 5000}), "beauty", "sasrec-bce", 0,
                                      params)  # fmt: skip
    assert path != expand.cache_path(args, "beauty", "sasrec-bce", 0, {**params, "cl_representation": "mean"})
    uncommitted = SimpleNamespace(**{**vars(args), "code": None})
    assert expand.cache_path(uncommitted, "beauty", "sasrec-bce", 0, params) is None
