"""Leakage guard: whatever reaches a ``fit`` as training data holds no held-out row.

Every test runs a stage, command or model as a user would, with the ``fit`` of whatever learns
wrapped by a spy (it records the arguments, then calls the original), and checks the recorded
training data against the split: no (user, item, timestamp) row of ``split.valid`` or
``split.test``, and no held-out (user, item) pair the user lacks in train (that catches a
held-out row whose timestamp was rewritten, e.g. time-reversed). ``valid`` may reach a model as
its separate early-stopping argument, and then it is exactly ``split.valid``; ``test`` never.
The models themselves are checked too: what they learn does not depend on ``valid``'s items.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
import torch

from cli_helpers import invoke
from recaug import columns as C
from recaug.data import Interactions, Sequences
from recaug.expand import Insert
from recaug.expand.similarity import ItemSimilarity
from recaug.fuse import Fuser
from recaug.generate import OrderModel, available, get_synthesizer
from recaug.models import SASRec, get_model_class
from recaug.models.base import _REGISTRY as MODEL_REGISTRY
from recaug.pipeline import stages as S
from recaug.pipeline.config import ExpandConfig, GenerateConfig, SplitConfig
from recaug.pipeline.config import TrainConfig as TrainSection
from recaug.split import Split

pytestmark = pytest.mark.usefixtures("restore_recaug_logger")
torch.set_num_threads(1)

EPOCH = {"epochs": 1, "batch_size": 64, "progress": False, "threads": 1}
#: tiny settings of every registered model (``device`` is given separately: cpu)
MODELS: dict[str, dict[str, Any]] = {
    "pop": {},
    "itemknn": {"k": 10},
    "bpr": {"dim": 8, **EPOCH},
    "multvae": {"hidden_dims": [16], "latent_dim": 8, **EPOCH},
    "gru4rec": {"hidden": 8, "max_len": 10, **EPOCH},
    "sasrec": {"hidden": 8, "n_layers": 1, "n_heads": 1, "max_len": 10, **EPOCH},
}
#: tiny settings of every registered synthesizer; the set-based ones pick their epoch on
#: held-back training users, so that internal split is exercised too
SYNTHS: dict[str, dict[str, Any]] = {
    "vae": {"hidden_dims": [16], "latent_dim": 4, "holdout_users": 8, **EPOCH},
    "gan": {"hidden": 16, "noise_dim": 4, "holdout_users": 8, **EPOCH},
    "sequence": {"hidden": 8, "n_layers": 1, "n_heads": 1, "max_len": 10, **EPOCH},
}


# -- the invariant ------------------------------------------------------------------------------
def _columns(data: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if isinstance(data, Sequences):
        assert data.timestamps is not None, "training sequences without timestamps: rows cannot be checked"
        return np.repeat(data.users, data.lengths), data.items, data.timestamps
    if isinstance(data, Interactions):
        return data.users, data.items, data.timestamps
    frame = data
    return (frame.get_column(c).to_numpy() for c in (C.USER, C.ITEM, C.TIME))  # type: ignore[return-value]


def rows(data: Any) -> set[tuple[int, int, int]]:
    """(user, item, timestamp) rows of Interactions, Sequences or a frame."""
    users, items, times = _columns(data)
    return set(zip(users.tolist(), items.tolist(), times.tolist(), strict=True))


def pairs(data: Any) -> set[tuple[int, int]]:
    return {(u, i) for u, i, _ in rows(data)}


def assert_train_only(data: Any, split: Split, what: str) -> None:
    """``data`` holds no held-out row, and its real rows no held-out pair the user lacks in train.

    (A synthetic row may equal a held-out pair: a generator fitted on train can guess it.)
    """
    held_rows = (rows(split.valid) | rows(split.test)) - rows(split.train)
    held_pairs = (pairs(split.valid) | pairs(split.test)) - pairs(split.train)
    assert held_rows and held_pairs  # the check has something to find
    leaked = rows(data) & held_rows
    assert not leaked, f"{what} was fitted on {len(leaked)} held-out rows, e.g. {sorted(leaked)[:3]}"
    real = data.real() if isinstance(data, Interactions) else data
    leaked_pairs = pairs(real) & held_pairs
    assert not leaked_pairs, f"{what} was fitted on held-out pairs, e.g. {sorted(leaked_pairs)[:3]}"


def spy(monkeypatch: pytest.MonkeyPatch, cls: type, name: str = "fit") -> list[dict[str, Any]]:
    """Wrap ``cls.<name>``: every call's bound arguments (defaults applied) are appended to the list."""
    calls: list[dict[str, Any]] = []
    original = getattr(cls, name)
    signature = inspect.signature(original)

    @functools.wraps(original)
    def recording(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        calls.append(dict(bound.arguments))
        return original(*args, **kwargs)

    monkeypatch.setattr(cls, name, recording)
    return calls


def other_items(part: Interactions, item_space: int) -> Interactions:
    """``part`` with every item replaced by another real item (same users and timestamps)."""
    n = item_space - C.N_RESERVED
    shifted = (pl.col(C.ITEM) - C.N_RESERVED + n // 2) % n + C.N_RESERVED
    return Interactions(part.frame.with_columns(shifted.cast(part.frame.schema[C.ITEM]).alias(C.ITEM)))


def flags(settings: dict[str, Any]) -> list[str]:
    """``-p KEY=VALUE`` for every setting (values as JSON, which the CLI reads as YAML)."""
    return [arg for k, v in settings.items() for arg in ("-p", f"{k}={json.dumps(v)}")]


# -- data ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``data/dataset`` (a small simulated shop) and ``split/`` as the split stage writes it."""
    from recaug.data.demo import simulate_shop

    root = tmp_path_factory.mktemp("leak")
    simulate_shop(n_users=50, n_items=40, seed=3).save(root / "data" / "dataset")
    (root / "split").mkdir()
    S.run_split(SplitConfig(), root / "data", root / "split")
    return root


@pytest.fixture(scope="module")
def split(root: Path) -> Split:
    return S.load_split(root / "split")


@pytest.fixture(scope="module")
def item_space(root: Path) -> int:
    return S.load_dataset(root / "data").vocab.item_space


def cli_split(root: Path) -> Split:
    """The split the stage commands make of ``data/dataset`` (their default leave-last-out)."""
    from recaug.cli._flow import make_split, split_settings

    return make_split(S.load_dataset(root / "data").interactions, split_settings("leave_last_out"))


def test_every_registered_model_and_synthesizer_is_covered() -> None:
    for name in MODELS:
        assert get_model_class(name).name == name
    assert set(MODEL_REGISTRY) == set(MODELS)
    assert set(available()) == set(SYNTHS)


# -- models -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(MODELS))
def test_model_learns_nothing_from_valid_items(name: str, split: Split, item_space: int) -> None:
    """``valid`` is for early stopping only: other validation items give the very same model
    (one epoch, so early stopping has nothing to choose), while training on them would not."""
    cls = get_model_class(name)
    other = other_items(split.valid, item_space)
    assert not other.equals(split.valid)
    histories = Sequences.from_interactions(split.history("test"))

    def scores(train: Interactions, valid: Interactions | None) -> torch.Tensor:
        model = cls(seed=0, device="cpu", **MODELS[name]).fit(train, valid, item_space=item_space)
        return model.score(histories)

    assert torch.equal(scores(split.train, split.valid), scores(split.train, other))
    # power: a model that trained on the validation rows would tell the two apart
    assert not torch.equal(
        scores(split.train.concat(split.valid), None), scores(split.train.concat(other), None)
    )


@pytest.mark.parametrize("name", list(MODELS))
def test_train_stage_fits_every_model_on_train_and_validates_on_valid(
    name: str, root: Path, split: Split, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cls = get_model_class(name)
    calls = spy(monkeypatch, cls)
    section = TrainSection(model=name, params=MODELS[name], device="cpu")
    S.run_train(section, root / "split" / "train.parquet", root / "split", root / "data", 0, tmp_path)
    assert len(calls) == 1
    assert rows(calls[0]["train"]) == rows(split.train)
    assert_train_only(calls[0]["train"], split, f"train stage {name}")
    assert rows(calls[0]["valid"]) == rows(split.valid)  # early stopping: valid, never test


@pytest.mark.parametrize("name", list(MODELS))
def test_cli_train_fits_every_model_on_train_and_validates_on_valid(
    name: str, root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = spy(monkeypatch, get_model_class(name))
    result = invoke("train", root / "data" / "dataset", "-m", name, *flags(MODELS[name]), "--device", "cpu",
                    "-o", tmp_path / "m")  # fmt: skip
    assert result.exit_code == 0, result.output
    parts = cli_split(root)
    assert len(calls) == 1
    assert rows(calls[0]["train"]) == rows(parts.train)
    assert_train_only(calls[0]["train"], parts, f"recaug train -m {name}")
    assert rows(calls[0]["valid"]) == rows(parts.valid)


@pytest.mark.parametrize("model", [SASRec, get_model_class("gru4rec")], ids=lambda c: c.name)
def test_online_and_contrastive_augmenters_inside_a_model_fit_on_train_only(
    model: type, split: Split, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The augmenter of online views and CL4SRec's view augmenter learn from ``train`` only."""
    calls = spy(monkeypatch, ItemSimilarity)
    settings = {k: v for k, v in MODELS[model.name].items()}
    m = model(seed=0, device="cpu", augmenter=Insert(0.3), contrastive="cl4srec", cl_augmenter=Insert(0.2),
              **settings)  # fmt: skip
    m.fit(split.train, split.valid)
    assert len(calls) == 2  # one similarity model per augmenter
    for call in calls:
        assert rows(call["train"]) == rows(split.train)
        assert_train_only(call["train"], split, f"{model.name} augmenter similarity")


# -- synthesizers -------------------------------------------------------------------------------
def spy_synthesizer(monkeypatch: pytest.MonkeyPatch, name: str) -> dict[str, list[dict[str, Any]]]:
    """Spies on the synthesizer's ``fit`` and on every fit inside it."""
    cls = get_synthesizer(name)
    inner: dict[str, list[dict[str, Any]]] = {
        "fit": spy(monkeypatch, cls),
        "order": spy(monkeypatch, OrderModel),
    }
    if name == "sequence":
        inner["net"] = spy(monkeypatch, SASRec)
    else:
        inner["net"] = spy(monkeypatch, cls, "_fit_net")
    return inner


def check_synthesizer(calls: dict[str, list[dict[str, Any]]], name: str, split: Split, what: str) -> None:
    assert len(calls["fit"]) == 1 and len(calls["net"]) == 1
    assert rows(calls["fit"][0]["train"]) == rows(split.train)
    for key, recorded in calls.items():
        for call in recorded:
            assert_train_only(call["train"], split, f"{what}: {name} {key}")
    if name == "sequence":
        assert calls["net"][0]["valid"] is None  # no early stopping on held-out data
    else:  # the set-based ones hold back training users to pick the epoch; train never grows
        assert rows(calls["net"][0]["train"]) < rows(split.train)
        assert len(calls["order"]) == 1


@pytest.mark.parametrize("name", list(SYNTHS))
def test_generate_stage_fits_every_synthesizer_on_train_only(
    name: str, root: Path, split: Split, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = spy_synthesizer(monkeypatch, name)
    cfg = GenerateConfig(method=name, params=SYNTHS[name], sample={"n_users": 5})
    S.run_generate(cfg, root / "split", root / "data", 0, tmp_path)
    check_synthesizer(calls, name, split, "generate stage")


def test_generate_stage_completes_training_histories_only(
    root: Path, split: Split, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    completed = spy(monkeypatch, get_synthesizer("vae"), "complete")
    cfg = GenerateConfig(method="vae", params=SYNTHS["vae"], mode="complete", complete_max_history=50)
    S.run_generate(cfg, root / "split", root / "data", 0, tmp_path)
    assert len(completed) == 1 and len(completed[0]["histories"]) > 0
    assert rows(completed[0]["histories"]) <= rows(split.train)
    assert_train_only(completed[0]["histories"], split, "generate stage completion histories")


@pytest.mark.parametrize("name", list(SYNTHS))
def test_cli_generate_fits_every_synthesizer_on_train_only(
    name: str, root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = spy_synthesizer(monkeypatch, name)
    completed = spy(monkeypatch, get_synthesizer(name), "complete")
    result = invoke("generate", root / "data" / "dataset", "-m", name, *flags(SYNTHS[name]),
                    "--complete", "2", "--max-history", "50", "-o", tmp_path / "g")  # fmt: skip
    assert result.exit_code == 0, result.output
    parts = cli_split(root)
    check_synthesizer(calls, name, parts, "recaug generate")
    assert len(completed) == 1 and 0 < len(rows(completed[0]["histories"])) <= len(rows(parts.train))
    assert rows(completed[0]["histories"]) <= rows(parts.train)
    assert S.load_split(tmp_path / "g" / "split").train.equals(parts.train)


# -- expand (the correlated augmenters' similarity model) ---------------------------------------
CORRELATED = {"op": "one_of", "ops": [{"op": "insert", "rate": 0.3}, {"op": "substitute", "rate": 0.3}]}


def check_similarity(calls: list[dict[str, Any]], split: Split, what: str) -> None:
    assert calls, "no similarity model was fitted"
    for call in calls:
        assert rows(call["train"]) == rows(split.train)
        assert_train_only(call["train"], split, what)


def test_expand_stage_fits_the_similarity_model_on_train_only(
    root: Path, split: Split, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = spy(monkeypatch, ItemSimilarity)
    S.run_expand(ExpandConfig(policy=CORRELATED, n_views=2), root / "split", 0, tmp_path)
    check_similarity(calls, split, "expand stage similarity")


def test_cli_expand_fits_the_similarity_model_on_train_only(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = spy(monkeypatch, ItemSimilarity)
    result = invoke(
        "expand", root / "data" / "dataset", "--op", "insert", "--op", "substitute", "-o", tmp_path / "x"
    )
    assert result.exit_code == 0, result.output
    check_similarity(calls, cli_split(root), "recaug expand similarity")


# -- fuse -----------------------------------------------------------------------------------------
def test_cli_fuse_keeps_the_real_training_rows_only(root: Path, tmp_path: Path) -> None:
    """``recaug fuse SPLIT SYNTH``: the rows it writes for training are train's plus synthetic ones."""
    gen = tmp_path / "g"
    data = root / "data" / "dataset"
    result = invoke("generate", data, "-m", "vae", *flags(SYNTHS["vae"]), "--n-users", "6", "-o", gen)
    assert result.exit_code == 0, result.output
    result = invoke("fuse", gen / "split", gen / "synthetic.parquet", "-o", tmp_path / "f")
    assert result.exit_code == 0, result.output
    fused = Interactions(pl.read_parquet(tmp_path / "f" / "train.parquet"), sort=False)
    parts = cli_split(root)
    assert rows(fused.real()) == rows(parts.train)
    assert len(fused) > len(parts.train)  # synthetic rows were added
    assert_train_only(fused, parts, "recaug fuse output")


# -- the whole pipeline -------------------------------------------------------------------------
def tiny_config(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": "leak",
        "data": {"source": "simulate", "simulate": {"n_users": 60, "n_items": 40, "seed": 3}},
        "preprocess": {"steps": [{"step": "dedup", "mode": "consecutive"}, {"step": "remap"}]},
        "train": {"model": "sasrec", "params": MODELS["sasrec"], "device": "cpu"},
        "evaluate": {"ks": [5, 10], "bootstrap": 20, "segments": {"cross_category": False}},
        "fuse": {"quality": False},
        "report": {"enabled": False},
        "seeds": [0],
        "variants": {
            "control": {},
            "generated": {"generate": {"method": "vae", "params": SYNTHS["vae"], "sample": {"n_users": 8}}},
            "completed": {"generate": {"method": "vae", "params": SYNTHS["vae"], "mode": "complete"}},
            "expanded": {"expand": {"policy": CORRELATED, "n_views": 1}},
        },
    }
    doc.update(overrides)
    return doc


def test_pipeline_fits_every_stage_on_train_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from recaug.pipeline import run_pipeline, validate_config

    models = spy(monkeypatch, SASRec)
    synths = spy(monkeypatch, get_synthesizer("vae"))
    similarity = spy(monkeypatch, ItemSimilarity)
    fused = spy(monkeypatch, Fuser, "fuse")
    result = run_pipeline(validate_config(tiny_config()), tmp_path / "run")
    split = S.load_split(tmp_path / "run" / result.arms["control"]["0"]["stages"]["split"])

    assert len(models) == 4 and len(synths) == 2 and len(fused) == 3 and similarity
    for call in models:
        assert_train_only(call["train"], split, "train stage")
        assert rows(call["train"].real()) == rows(split.train)
        assert rows(call["valid"]) == rows(split.valid)
    assert any(len(call["train"]) > len(split.train) for call in models)  # augmented arms did add rows
    for call in synths + similarity:
        assert rows(call["train"]) == rows(split.train)
        assert_train_only(call["train"], split, "generate / expand stage")
    for call in fused:
        assert rows(call["train"]) == rows(split.train)


def test_tune_fits_on_train_and_searches_on_valid_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("optuna")
    from recaug.pipeline import validate_config

    T = importlib.import_module("recaug.pipeline.tune")  # the package's ``tune`` is the function

    models = spy(monkeypatch, get_model_class("pop"))
    similarity = spy(monkeypatch, ItemSimilarity)
    evaluated: list[tuple[str, list[str]]] = []
    phase = ["search"]
    run_evaluate, run_pipeline = S.run_evaluate, T.run_pipeline

    def recording_evaluate(cfg: Any, *args: Any, **kwargs: Any) -> Any:
        evaluated.append((phase[0], list(cfg.targets)))
        return run_evaluate(cfg, *args, **kwargs)

    def final_run(*args: Any, **kwargs: Any) -> Any:
        phase[0] = "final"
        return run_pipeline(*args, **kwargs)

    monkeypatch.setattr(S, "run_evaluate", recording_evaluate)
    monkeypatch.setattr(T, "run_pipeline", final_run)
    config = tiny_config(
        train={"model": "pop"}, variants={}, tune={"ops": ["insert", "crop"], "n_views": [1, 1]}
    )
    T.tune(validate_config(config), 2, tmp_path / "tune")
    split = S.load_split(next((tmp_path / "tune" / "stages").glob("split/*")))

    search = [targets for when, targets in evaluated if when == "search"]
    assert len(search) == 2 and all(targets == ["valid"] for targets in search)  # test is never looked at
    assert ["valid", "test"] in [targets for when, targets in evaluated if when == "final"]
    assert models and similarity
    for call in models:
        assert rows(call["train"].real()) == rows(split.train)
        assert_train_only(call["train"], split, "tune trial")
        assert rows(call["valid"]) == rows(split.valid)
    for call in similarity:
        assert_train_only(call["train"], split, "tune trial similarity")
