"""Stage adapters: each reads its inputs from upstream stage folders and writes its outputs to ``out``.

Every adapter returns ``info`` (JSON-ready; always ``rows_in`` and ``rows_out``), which the runner
stores in the stage's cache marker and the manifest. Adapters are pure functions of (settings,
inputs, seed): the same inputs give the same files, which is what makes resume exact.

Outputs per stage:

* data, preprocess: ``dataset/`` (the recaug dataset folder format, Parquet); preprocess adds
  ``preprocess.json`` (one report per step);
* split: ``train.parquet``, ``valid.parquet``, ``test.parquet``, ``protocol.json``;
* generate: ``synthetic.parquet`` (+ ``quality/``);
* expand: ``sequences.parquet`` (one row per augmented item with ``sequence`` id, source user,
  op path) and ``provenance.json``;
* fuse: ``train.parquet`` (real + kept synthetic rows, ``source`` tells them apart),
  ``fuse.json`` and ``quality/`` (real vs synthetic distributions);
* train: ``model/`` (``config.json`` + ``state.pt``), ``history.json`` (per-epoch curves);
* evaluate: ``<target>/per_user.parquet`` + ``summary.json`` for each target;
* report: ``report.html`` / ``.md`` / ``.json`` in the run directory itself.

The order of the stages, when each applies and what its cache key is made of live in
:mod:`recaug.pipeline.registry`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from recaug import columns as C
from recaug.atomic import write_json
from recaug.data.dataset import Dataset
from recaug.data.interactions import Interactions
from recaug.errors import DataError
from recaug.split.base import Protocol, Split

if TYPE_CHECKING:  # the config models are only annotations here: importing this module stays light
    from recaug.pipeline.config import (
        DataConfig,
        EvaluateConfig,
        ExpandConfig,
        FuseConfig,
        GenerateConfig,
        SplitConfig,
    )
    from recaug.pipeline.config import TrainConfig as TrainSection

SPLIT_PARTS = ("train", "valid", "test")


# -- loaders ----------------------------------------------------------------------------------
def load_dataset(folder: Path) -> Dataset:
    """The dataset a data/preprocess stage wrote."""
    return Dataset.load(folder / "dataset")


def load_split(folder: Path) -> Split:
    """The split a split stage wrote."""
    parts = [Interactions(pl.read_parquet(folder / f"{p}.parquet"), sort=False) for p in SPLIT_PARTS]
    proto = json.loads((folder / "protocol.json").read_text(encoding="utf-8"))
    return Split(*parts, Protocol(**proto))


# -- data / preprocess / split ----------------------------------------------------------------
def run_data(cfg: DataConfig, out: Path) -> dict[str, Any]:
    """Read the input file (or simulate the shop) and save it as a dataset folder."""
    if cfg.source == "simulate":
        from recaug.data.demo import simulate_shop

        dataset = simulate_shop(**cfg.simulate)
    else:
        from recaug.data.io import read

        assert cfg.path is not None
        cols = cfg.columns
        dataset = read(
            cfg.path, format=cfg.format, user_col=cols.user, item_col=cols.item, time_col=cols.time,
            event_col=cols.event, category_col=cols.category, rating_col=cols.rating, query_col=cols.query,
            sep=cfg.sep, item_side=cfg.item_side, name=cfg.name,
        )  # fmt: skip
    dataset.save(out / "dataset")
    n = len(dataset.interactions)
    return {"rows_in": n, "rows_out": n, "users": dataset.vocab.n_users, "items": dataset.vocab.n_items}


def run_preprocess(steps: list[dict[str, Any]], data_dir: Path, out: Path) -> dict[str, Any]:
    """Apply the preprocessing steps; ``preprocess.json`` keeps one report per step."""
    from recaug.preprocess import Preprocessor

    dataset = load_dataset(data_dir)
    pre = Preprocessor.from_config(steps)
    result = pre.run(dataset)
    result.dataset.save(out / "dataset")
    reports = [r.to_dict() for r in result.reports]
    # timings go to the marker, not the files: identical inputs give identical bytes downstream
    untimed = [{k: v for k, v in r.items() if k != "seconds"} for r in reports]
    write_json(out / "preprocess.json", {"steps": pre.to_config(), "reports": untimed})
    ds = result.dataset
    return {
        "rows_in": len(dataset.interactions),
        "rows_out": len(ds.interactions),
        "users": ds.vocab.n_users,
        "items": ds.vocab.n_items,
        "steps": reports,
    }


def run_split(cfg: SplitConfig, data_dir: Path, out: Path) -> dict[str, Any]:
    """Split by the configured protocol and write the three parts plus the protocol."""
    from recaug.split import LeaveLastOut, TemporalSplit

    dataset = load_dataset(data_dir)
    if cfg.protocol == "leave_last_out":
        protocol: Any = LeaveLastOut(
            n_valid=cfg.n_valid, n_test=cfg.n_test, min_train=cfg.min_train, duplicates=cfg.duplicates
        )
    else:
        protocol = TemporalSplit(
            valid_at=cfg.valid_at, test_at=cfg.test_at, require_train_history=cfg.require_train_history
        )
    split = protocol.split(dataset.interactions)
    for name in SPLIT_PARTS:
        getattr(split, name).frame.write_parquet(out / f"{name}.parquet")
    p = split.protocol
    write_json(
        out / "protocol.json",
        {
            "split": p.split,
            "params": p.params,
            "candidates": p.candidates,
            "history_masking": p.history_masking,
        },
    )
    sizes = {name: len(getattr(split, name)) for name in SPLIT_PARTS}
    if sizes["test"] == 0:
        raise DataError("the split left no test interactions", expected="users with at least 2 interactions")
    return {"rows_in": len(dataset.interactions), "rows_out": sum(sizes.values()), **sizes}


# -- generate / expand / fuse -----------------------------------------------------------------
def _quality(
    real: Interactions,
    synthetic: Interactions,
    items: pl.DataFrame,
    seed: int,
    discriminator: bool,
    out: Path,
) -> dict[str, Any] | None:
    """Quality report of ``synthetic`` vs ``real`` into ``out`` (None when there is nothing to compare)."""
    if len(synthetic) == 0 or len(real) == 0:
        return None
    from recaug.quality import QualityReport

    report = QualityReport.compute(real, synthetic, items=items, seed=seed, discriminator=discriminator)
    report.save(out)
    plot = {}
    if "lengths" in report.plot_data:
        r, s = report.plot_data["lengths"]
        plot["lengths"] = {"real": np.asarray(r).tolist(), "synthetic": np.asarray(s).tolist()}
    if "popularity" in report.plot_data:
        r, s = report.plot_data["popularity"]
        plot["popularity"] = {
            "real": np.sort(np.asarray(r))[::-1][:500].tolist(),
            "synthetic": np.sort(np.asarray(s))[::-1][:500].tolist(),
        }
    if "category" in report.plot_data:
        names, r, s = report.plot_data["category"]
        plot["category"] = {
            "names": [str(n) for n in names],
            "real": np.asarray(r).tolist(),
            "synthetic": np.asarray(s).tolist(),
        }
    write_json(out / "plot_data.json", plot)
    return {"scores": report.scores, "overall": report.overall, "privacy": report.privacy}


def run_generate(
    cfg: GenerateConfig, split_dir: Path, data_dir: Path, seed: int, out: Path, *, checkpoint: Path | None = None
) -> dict[str, Any]:
    """Fit a synthesizer on ``split.train`` only and sample or complete synthetic interactions.

    The synthesizer comes from ``recaug.generate.from_config({"method": ..., **params})``; its
    training saves its state to ``checkpoint`` after every epoch (unless ``params`` names one).
    """
    import recaug.generate as G

    split = load_split(split_dir)
    settings = {"method": cfg.method, "seed": seed, **cfg.params}  # each run seed trains its own synthesizer
    if checkpoint is not None:
        settings.setdefault("checkpoint", str(checkpoint))
    synth = G.from_config(settings)
    dataset = load_dataset(data_dir)  # the item space and categories (for condition={"category": ...})
    synth.fit(split.train, item_space=dataset.vocab.item_space, items=dataset.items)
    if cfg.mode == "complete":
        histories = G.short_histories(split.train, cfg.complete_max_history)
        synthetic = synth.complete(histories, cfg.complete_k, seed=seed)
    else:
        synthetic = synth.sample(seed=seed, **cfg.sample)
    if not isinstance(synthetic, Interactions):
        synthetic = Interactions(synthetic)
    frame = synthetic.frame
    if (frame.get_column(C.SOURCE) == C.REAL).any():
        frame = frame.with_columns(pl.lit(str(cfg.method)).alias(C.SOURCE))
    frame.write_parquet(out / "synthetic.parquet")
    return {"rows_in": len(split.train), "rows_out": len(frame), "synthetic_users": frame[C.USER].n_unique()}


def run_expand(cfg: ExpandConfig, split_dir: Path, seed: int, out: Path) -> dict[str, Any]:
    """Augment every training sequence ``n_views`` times (train only) and keep the augmented views.

    Models learn from interactions, whose item codes exclude PAD/MASK, so MASK/PAD tokens an
    operation leaves are removed (an offline mask acts as item dropout); views shorter than
    ``min_length`` are dropped and counted (``views_dropped_short``).
    """
    from recaug.expand import expand_training, from_config

    assert cfg.policy is not None
    split = load_split(split_dir)
    augmenter = from_config(json.loads(json.dumps(cfg.policy)))
    expanded = expand_training(split.train, augmenter, n_views=cfg.n_views, seed=seed, keep_original=False)
    seqs = expanded.sequences
    lengths = seqs.lengths
    frame = pl.DataFrame({
        "sequence": np.repeat(np.arange(len(seqs), dtype=np.int64), lengths),
        C.USER: np.repeat(seqs.users, lengths),
        C.ITEM: seqs.items,
        C.SOURCE: pl.Series(np.repeat(seqs.source.astype(str), lengths), dtype=pl.Utf8),
    })  # fmt: skip
    special = int((frame.get_column(C.ITEM) < C.N_RESERVED).sum())
    frame = frame.filter(pl.col(C.ITEM) >= C.N_RESERVED)
    frame = frame.filter(pl.len().over("sequence") >= cfg.min_length)
    frame = frame.with_columns(pl.int_range(pl.len()).over("sequence").cast(pl.Int64).alias(C.TIME))
    frame.write_parquet(out / "sequences.parquet")
    write_json(out / "provenance.json", expanded.provenance)
    kept = frame.get_column("sequence").n_unique() if frame.height else 0
    return {
        "rows_in": len(split.train),
        "rows_out": frame.height,
        "sequences": kept,
        "views": len(seqs),
        "views_dropped_short": len(seqs) - kept,
        "special_tokens_removed": special,
    }


def run_fuse(
    cfg: FuseConfig,
    split_dir: Path,
    data_dir: Path,
    generate_dir: Path | None,
    expand_dir: Path | None,
    seed: int,
    out: Path,
) -> dict[str, Any]:
    """Real training rows plus synthetic rows (generated ones, and expanded views as new users).

    Each augmented view becomes its own new synthetic user (code above every real and generated
    user), so sequence models train on it as an independent sequence, as offline augmentation
    intends; ``source`` keeps the op path. Synthetic item codes outside the dataset's catalogue
    are an error. After fusion (never before the decision) the kept synthetic rows that equal a
    held-out pair are counted as a diagnostic (``held_out_hits_kept``); ``held_out_hits_dropped``
    counts the rows ``held_out_hits: drop`` removed using held-out labels.
    """
    from recaug.fuse.fuser import Fuser, held_out_hits_kept

    split = load_split(split_dir)
    parts: list[pl.DataFrame] = []
    if generate_dir is not None:
        parts.append(pl.read_parquet(generate_dir / "synthetic.parquet"))
    top = max(int(getattr(split, p).frame.get_column(C.USER).max() or 0) for p in SPLIT_PARTS)
    if parts and parts[0].height:
        top = max(top, int(parts[0].get_column(C.USER).max()))
    if expand_dir is not None:
        views = pl.read_parquet(expand_dir / "sequences.parquet")
        views = views.with_columns((pl.col("sequence") + top + 1).cast(pl.Int32).alias(C.USER)).drop(
            "sequence"
        )
        parts.append(views)
    synthetic = Interactions(pl.concat(parts, how="diagonal_relaxed"), sort=False)
    settings = cfg.model_dump(exclude={"quality", "quality_discriminator"})
    dataset = load_dataset(data_dir)
    fused, report = Fuser(**settings, seed=seed).fuse(
        split.train, synthetic, split=split, item_space=dataset.vocab.item_space
    )
    split.assert_no_leakage(fused, what="the fused training rows", real_only=True)
    report.diagnostics["held_out_hits_kept"] = held_out_hits_kept(fused, split)
    fused.frame.write_parquet(out / "train.parquet")
    write_json(out / "fuse.json", report.to_dict())
    kept = fused.filter(pl.col(C.SOURCE) != C.REAL)
    quality = None
    if cfg.quality and len(kept):
        quality = _quality(split.train, kept, dataset.items, seed, cfg.quality_discriminator, out / "quality")
    real = len(split.train)
    return {
        "rows_in": real + len(synthetic),
        "rows_out": len(fused),
        "real_rows": real,
        "synthetic_in": len(synthetic),
        "rows_added": len(kept),
        "synthetic_share": len(kept) / real if real else 0.0,
        "held_out_hits": cfg.held_out_hits,
        "held_out_hits_dropped": report.dropped.get("held_out_hit", 0),
        "held_out_hits_kept": report.diagnostics["held_out_hits_kept"],
        "quality": quality,
    }


# -- train / evaluate -------------------------------------------------------------------------
def run_train(
    cfg: TrainSection,
    train_file: Path,
    split_dir: Path,
    data_dir: Path,
    seed: int,
    out: Path,
    *,
    checkpoint: Path | None = None,
) -> dict[str, Any]:
    """Fit the model on the (fused) training rows; ``valid`` is used for early stopping only.

    A trainable model saves its state to ``checkpoint`` after every epoch (unless
    ``train.params`` names a checkpoint of its own), so a killed run resumes mid-fit. Unless the
    model's schedule reads the epoch cap, the completed fit's final state stays there too, so a
    rerun with a higher ``epochs`` continues it (the registry keys that file without the cap).
    ``epochs`` and ``epoch_seconds`` count every leg of such a fit; ``epochs_trained`` this one.
    """
    from recaug.models import get_model_class
    from recaug.models.base import build_model
    from recaug.models.checkpoint import epochs_in_schedule
    from recaug.models.neural import NeuralRecommender

    split = load_split(split_dir)
    train = Interactions(pl.read_parquet(train_file), sort=False)
    dataset = load_dataset(data_dir)
    params = dict(cfg.params)
    cls = get_model_class(cfg.model)
    if checkpoint is not None and issubclass(cls, NeuralRecommender) and "checkpoint" not in params:
        params["checkpoint"] = str(checkpoint)
        params["keep_checkpoint"] = not epochs_in_schedule(cls)
    model = build_model(cfg.model, params, seed=seed, device=cfg.device)
    model.fit(train, split.valid, item_space=dataset.vocab.item_space)
    model.save(out / "model")
    history = [dict(h) for h in getattr(model, "history_", []) or []]
    epoch_seconds = sum(float(h.pop("seconds", 0.0) or 0.0) for h in history)  # timings stay out of the files
    write_json(
        out / "history.json",
        {"model": cfg.model, "history": history, "best_epoch": getattr(model, "best_epoch_", None)},
    )
    device = str(getattr(model, "torch_device", cfg.device))
    n_syn = int((train.frame.get_column(C.SOURCE) != C.REAL).sum())
    return {
        "rows_in": len(train),
        "rows_out": len(train),
        "synthetic_rows": n_syn,
        "epochs": len(history),
        "epochs_trained": len(history) - int(getattr(model, "resumed_epochs_", 0) or 0),
        "epoch_seconds": round(epoch_seconds, 4),
        "device": device,
    }


def segment_rules(cfg: EvaluateConfig, dataset: Dataset) -> list[Any]:
    """History-length buckets, new users, repeat/new targets and (when items have categories) cross-category."""
    from recaug.evaluate import CrossCategory, HistoryLength, NewUsers, RepeatTargets

    rules: list[Any] = [
        NewUsers(cfg.segments.new_user_max_history),
        HistoryLength(tuple(cfg.segments.history_edges)),
        RepeatTargets(),  # always: the repeat policy moves these users' scores, their share must show
    ]
    if cfg.segments.cross_category and dataset.item_categories() is not None:
        rules.append(CrossCategory(dataset))
    return rules


def run_evaluate(
    cfg: EvaluateConfig, model_dir: Path, split_dir: Path, data_dir: Path, seed: int, out: Path,
    input_train: Path | None = None,
) -> dict[str, Any]:
    """Full-ranking evaluation on each target; per-user results and summaries per target.

    The real histories are always the mask; with ``input_train`` (the arm's fused training rows,
    ``test_input: fused``) they are not the model's input: it reads the fused histories instead.
    """
    from recaug.evaluate import Evaluator, WithInputHistories, held_out_histories
    from recaug.models.base import Recommender

    split = load_split(split_dir)
    dataset = load_dataset(data_dir)
    model = Recommender.load(model_dir / "model")
    evaluator = Evaluator(
        ks=tuple(cfg.ks), metrics=tuple(cfg.metrics), candidates=cfg.candidates, seed=seed, repeats=cfg.repeats
    )
    rules = segment_rules(cfg, dataset)
    summaries: dict[str, Any] = {}
    n_users = 0
    fused = None
    if input_train is not None:
        fused = Split(Interactions(pl.read_parquet(input_train), sort=False), split.valid, split.test, split.protocol)
    for target in cfg.targets:
        scorer = model if fused is None else WithInputHistories(model, held_out_histories(fused, target)[0])
        result = evaluator.evaluate(scorer, split, target, segments=rules)
        if fused is not None:
            result.protocol = {**result.protocol, "test_input": "fused training rows; real histories masked"}
        result.save(out / target)
        summaries[target] = result.summary()
        n_users = max(n_users, result.n_users)
    return {"rows_in": len(split.test) + len(split.valid), "rows_out": n_users, "summary": summaries}


# -- report -----------------------------------------------------------------------------------
def run_report(run_dir: Path) -> dict[str, Any]:
    """Write the report unless it already reflects the current ``results.json`` (and tuning results).

    Returns ``{"path": report.html, "cached": whether it was up to date}``.
    """
    from recaug.pipeline.rundir import read_json
    from recaug.report import REPORT_VERSION, inputs_fingerprint, write_report

    existing = read_json(run_dir / "report.json", default={}) or {}
    html = run_dir / "report.html"
    if (
        existing.get("inputs_fingerprint") == inputs_fingerprint(run_dir)
        and existing.get("report_version") == REPORT_VERSION
        and html.is_file()
    ):
        return {"path": html, "cached": True}
    return {"path": write_report(run_dir), "cached": False}
