"""The one torch training loop every neural model uses.

``fit_loop`` runs epochs of shuffled mini-batches (the model supplies a callback that turns a
batch of row indices into a scalar loss), evaluates on validation every ``eval_every`` epochs
with the same full-ranking routine as the evaluator (:func:`recaug.evaluate.ranking.rank_targets`),
stops early after ``patience`` evaluations without improvement, and restores the best weights.

Validation uses the training sequence of each validation user as history and the user's
(first) validation item as target, so early stopping never sees test data.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import torch
from torch import nn

from recaug import columns as C
from recaug import progress
from recaug.data.interactions import Interactions
from recaug.data.sequences import Sequences
from recaug.errors import ConfigError
from recaug.evaluate.metrics import METRICS, metric_values
from recaug.evaluate.ranking import rank_targets
from recaug.models import checkpoint as ckpt
from recaug.split.repeats import DEFAULT_REPEATS, check_repeats

logger = logging.getLogger("recaug.models.training")

#: ``batch_loss(rows)``: scalar loss of the training rows ``rows`` (an int64 tensor on CPU).
BatchLoss = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class TrainConfig:
    """Optimisation and early-stopping settings shared by every neural model.

    ``patience`` counts *evaluations* (not epochs) without improvement of ``valid_metric``;
    ``None`` disables early stopping. ``valid_from`` is the first epoch that is validated: before
    it there is no validation, no best-epoch choice and no early stop (RepPad's ``star_valid``,
    for methods that need a long warm-up before they pay off). ``threads`` sets ``torch.set_num_threads`` for the
    duration of training (``None`` keeps the current setting). ``progress``: ``None`` shows a
    progress bar only when stderr is a TTY, otherwise one log line per epoch. ``checkpoint``: a
    file the training state is saved to after every epoch; a fit that finds it (from a killed
    run with the same settings and data) continues from there (:mod:`recaug.models.checkpoint`);
    it is removed when the fit completes, unless ``keep_checkpoint``: then it keeps the final
    state, and a later fit that only raises ``epochs`` continues it (for models whose schedule
    does not read ``epochs``, :func:`recaug.models.checkpoint.epochs_in_schedule`).
    ``valid_repeats``: the repeat policy of the validation ranking (``recaug.evaluate.ranking``;
    the same default as the evaluator, so early stopping selects under the rule it is judged by).
    """

    epochs: int = 200
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 0.0
    patience: int | None = 10
    eval_every: int = 1
    valid_from: int = 1
    valid_metric: str = "NDCG@10"
    valid_repeats: str = DEFAULT_REPEATS
    threads: int | None = None
    progress: bool | None = None
    checkpoint: str | None = None
    keep_checkpoint: bool = False

    def __post_init__(self) -> None:
        if self.epochs < 0 or self.batch_size < 1 or self.eval_every < 1 or self.valid_from < 1:
            raise ConfigError("epochs must be >= 0; batch_size, eval_every and valid_from >= 1")
        if self.patience is not None and self.patience < 1:
            raise ConfigError("patience must be >= 1 or None")
        parse_metric(self.valid_metric)
        check_repeats(self.valid_repeats, "valid_repeats")

    def to_dict(self) -> dict[str, Any]:
        """Plain settings (JSON-ready). ``checkpoint`` and ``keep_checkpoint`` are left out: they
        say where one training job keeps its state, not how the model is trained, so they are
        not saved with the model."""
        settings = asdict(self)
        del settings["checkpoint"], settings["keep_checkpoint"]
        return settings

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        """Names of the settings."""
        return tuple(f.name for f in fields(cls))

    @classmethod
    def settings_fields(cls, defaults: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
        """``{name: (type, default)}`` of every training setting, ``defaults`` overriding the class's
        (a model's ``train_defaults``): what a trainable component adds to its own settings schema."""
        import typing

        hints = typing.get_type_hints(cls)
        return {f.name: (hints[f.name], defaults.get(f.name, f.default)) for f in fields(cls)}


def validates(epoch: int, config: TrainConfig) -> bool:
    """Whether ``epoch`` (1-based) is a validation epoch under ``eval_every`` and ``valid_from``."""
    return epoch >= config.valid_from and epoch % config.eval_every == 0


def parse_metric(name: str) -> tuple[str, int]:
    """``"NDCG@10"`` -> ``("NDCG", 10)``."""
    metric, _, k = name.partition("@")
    if metric not in METRICS or not k.isdigit() or int(k) < 1:
        raise ConfigError(f"valid_metric must look like 'NDCG@10' with a metric in {METRICS}, got {name!r}")
    return metric, int(k)


def validation_data(train: Interactions, valid: Interactions) -> tuple[Sequences, np.ndarray]:
    """Histories (real training sequence of every validation user, possibly empty) and targets.

    A user with several validation rows is validated on the earliest one. Only real training
    rows (``source == "real"``) are the history, input and mask: synthetic rows with a user's
    held-out items are dropped before fusion, so masking the rest would take known-wrong
    guesses out of the ranking, and an augmented arm would be validated on other histories
    than its control (see ``recaug.evaluate.input_histories``).
    """
    real = train.frame.filter(pl.col(C.SOURCE) == C.REAL)
    train_seq = Sequences.from_interactions(train if real.height == len(train) else Interactions(real))
    first = valid.frame.sort([C.USER, C.TIME], maintain_order=True).unique(
        subset=[C.USER], keep="first", maintain_order=True
    )
    users = first.get_column(C.USER).to_numpy().astype(np.int32)
    targets = first.get_column(C.ITEM).to_numpy().astype(np.int64)
    if len(train_seq) == 0:
        empty = np.zeros(len(users) + 1, dtype=np.int64)
        return Sequences(offsets=empty, items=np.zeros(0, np.int32), users=users), targets
    pos = np.minimum(np.searchsorted(train_seq.users, users), len(train_seq) - 1)
    lengths = np.where(train_seq.users[pos] == users, train_seq.lengths[pos], 0)
    offsets = np.r_[0, np.cumsum(lengths)].astype(np.int64)
    idx = np.repeat(train_seq.offsets[pos] - offsets[:-1], lengths) + np.arange(offsets[-1])
    return Sequences(offsets=offsets, items=train_seq.items[idx], users=users), targets


def validation_score(
    model: object, histories: Sequences, targets: np.ndarray, metric: str, repeats: str = DEFAULT_REPEATS
) -> float:
    """Mean ``metric`` (e.g. ``"NDCG@10"``) of full-ranking ``targets`` given ``histories``."""
    name, k = parse_metric(metric)
    if len(targets) == 0:
        return float("nan")
    ranks = rank_targets(model, histories, targets, repeats=repeats)
    return float(metric_values(ranks, name, k).mean())


@contextlib.contextmanager
def inference(module: nn.Module, threads: int | None) -> Iterator[nn.Module]:
    """Scoring context: ``module`` in eval mode, no grad, ``threads`` torch threads; its training
    mode is restored afterwards."""
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad(), num_threads(threads):
            yield module
    finally:
        module.train(was_training)


@contextlib.contextmanager
def num_threads(threads: int | None) -> Iterator[None]:
    """Temporarily ``torch.set_num_threads(threads)`` (no-op for ``None``)."""
    if threads is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextlib.contextmanager
def seeded_torch(seed: int) -> Iterator[None]:
    """Run the block with torch's global generators seeded from ``seed``, then put them back.

    Dropout and ``scaled_dot_product_attention`` draw from the global generator and take no
    ``generator`` argument; forking it keeps a fit a pure function of its seed whatever the
    process drew before, and leaves the caller's own random state exactly as it was.
    """
    # every CUDA device is forked too: ``torch.manual_seed`` reseeds them all
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(int(seed))
        yield


#: added to a model's seed for the global stream of its training loop (dropout), so it differs
#: from the stream that initialised the weights
TRAIN_STREAM = 3


#: seconds between progress lines inside a long epoch (off a TTY)
BATCH_LOG_SECONDS = 30.0


class _Reporter:
    """A rich progress bar on a TTY, otherwise one log line per epoch (and every
    :data:`BATCH_LOG_SECONDS` inside a long one, so a 17-minute epoch is not silent)."""

    def __init__(self, name: str, epochs: int, show_bar: bool | None) -> None:
        self.name = progress.label() + name  # "[arm seed N] SASRec" inside a pipeline run
        self.epochs = epochs
        self.last_line = time.perf_counter()
        self.bar = None
        if show_bar if show_bar is not None else sys.stderr.isatty():
            from rich.progress import Progress

            self.bar = Progress(transient=True)
            self.task = self.bar.add_task(name, total=epochs)
            self.bar.start()

    def batch(self, epoch: int, done: int, total: int, started: float) -> None:
        """A progress line inside an epoch when the last line is older than the interval."""
        now = time.perf_counter()
        if self.bar is not None or now - self.last_line < BATCH_LOG_SECONDS:
            return
        self.last_line = now
        logger.info(
            "%s epoch %d/%d: batch %d/%d (%.0f%%), %.0fs", self.name, epoch, self.epochs, done, total,
            100.0 * done / max(total, 1), now - started,
        )  # fmt: skip

    def epoch(self, record: dict[str, Any], metric: str) -> None:
        self.last_line = time.perf_counter()
        value = record["metric"]
        text = (
            f"{self.name} epoch {record['epoch']}/{self.epochs}: loss {record['loss']:.4f}, "
            f"valid {metric} {'-' if value is None else f'{value:.4f}'}, {record['seconds']:.1f}s"
        )
        if self.bar is not None:
            self.bar.update(self.task, advance=1, description=text)
        else:
            logger.info(text)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def adam(params: Any, *, lr: float, weight_decay: float = 0.0) -> torch.optim.Adam:
    """Adam with PyTorch's fused kernel where it exists (float32 on CPU or CUDA).

    The update is the same up to float rounding; the fused kernel does it in one pass over
    the parameters, which on one CPU core made an Adam step over Mult-VAE's 14.5M weights
    about 8x faster than the default per-tensor loop.
    """
    params = [p for p in params if p.requires_grad]
    fused = bool(params) and all(p.dtype == torch.float32 and p.device.type in ("cpu", "cuda") for p in params)
    return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, fused=fused or None)


def fit_loop(
    model: Any,
    module: nn.Module,
    batch_loss: BatchLoss,
    n_rows: int,
    config: TrainConfig,
    *,
    generator: torch.Generator,
    valid: tuple[Sequences, np.ndarray] | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    on_epoch: Callable[[int], None] | None = None,
    extra_generators: tuple[torch.Generator, ...] = (),
    extra_state: dict[str, Any] | None = None,
    data: tuple[Any, ...] = (),
) -> list[dict[str, Any]]:
    """Train ``module`` and record ``model.history_`` / ``model.best_epoch_``.

    ``batch_loss(rows)`` gets a shuffled batch of row indices in ``[0, n_rows)``; shuffling uses
    ``generator`` so a seeded generator makes the run deterministic. ``model.score`` is used for
    validation (it must put ``module`` in eval mode itself; the loop switches back to train mode).
    ``on_epoch(epoch)`` (optional) runs at the start of every epoch (1-based), before shuffling,
    e.g. to derive per-epoch augmentation seeds.
    With ``config.checkpoint`` set, the state is saved after every epoch and a saved state is
    resumed; ``extra_generators`` (other random streams ``batch_loss`` draws from),
    ``extra_state`` (other objects it updates, with ``state_dict`` / ``load_state_dict``: a GAN's
    discriminator and its optimiser) and a hash of ``data`` (the training data: ``Interactions``
    or arrays, :func:`recaug.models.checkpoint.data_key`) go into it. A checkpoint of a fit
    under another epoch cap is continued when the model's schedule does not read the cap
    (:func:`recaug.models.checkpoint.load`); ``model.resumed_epochs_`` counts the epochs restored.
    Returns the history: one dict per epoch with ``epoch``, ``loss``, ``metric`` (validation
    ``config.valid_metric`` or ``None`` when not evaluated) and ``seconds``.
    """
    if optimizer is None:
        optimizer = adam(module.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    history: list[dict[str, Any]] = []
    model.best_epoch_ = None
    best_value, best_state, stale, first = -math.inf, None, 0, 1
    generators, extra_state = (generator, *extra_generators), extra_state or {}
    expected = ckpt.fingerprint(model, module, n_rows, ckpt.data_key(*data)) if config.checkpoint else None
    cap = None if ckpt.epochs_in_schedule(model) else config.epochs  # None: the cap is part of the fit
    saved = ckpt.load(config.checkpoint, expected, cap=cap) if config.checkpoint and expected is not None else None
    model.resumed_epochs_ = 0
    if saved is not None:
        module.load_state_dict(saved["module"])
        optimizer.load_state_dict(saved["optimizer"])
        for name, obj in extra_state.items():
            obj.load_state_dict(saved["extra"][name])
        history, best_state, model.best_epoch_ = saved["history"], saved["best_state"], saved["best_epoch"]
        best_value, stale = saved["best_value"], saved["stale"]
        first = config.epochs + 1 if saved["stopped"] else saved["epoch"] + 1
        model.resumed_epochs_ = len(history)
    model.history_ = history
    reporter = _Reporter(type(model).__name__, config.epochs, config.progress)
    try:
        with num_threads(config.threads), seeded_torch(int(getattr(model, "seed", 0)) + TRAIN_STREAM):
            if saved is not None:  # inside the fork: the global streams resume where they were
                ckpt.restore_rng_states(saved["rng"], generators)
            for epoch in range(first, config.epochs + 1):
                start = time.perf_counter()
                if on_epoch is not None:
                    on_epoch(epoch)
                module.train()
                order = torch.randperm(n_rows, generator=generator)
                total, batches = 0.0, 0
                n_batches = -(-n_rows // config.batch_size)
                for lo in range(0, n_rows, config.batch_size):
                    loss = batch_loss(order[lo : lo + config.batch_size])
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    total += float(loss.detach())
                    batches += 1
                    reporter.batch(epoch, batches, n_batches, start)
                value = None
                if valid is not None and len(valid[1]) and validates(epoch, config):
                    value = validation_score(model, valid[0], valid[1], config.valid_metric, config.valid_repeats)
                    module.train()
                record = {
                    "epoch": epoch,
                    "loss": total / max(batches, 1),
                    "metric": value,
                    "seconds": time.perf_counter() - start,
                }
                history.append(record)
                reporter.epoch(record, config.valid_metric)
                stop = False
                if value is not None and value > best_value:
                    best_value, stale = value, 0
                    best_state = copy.deepcopy(module.state_dict())
                    model.best_epoch_ = epoch
                elif value is not None:
                    stale += 1
                    stop = config.patience is not None and stale >= config.patience
                if config.checkpoint:
                    ckpt.save(config.checkpoint, {
                        "fingerprint": expected, "epoch": epoch, "stopped": stop,
                        "module": module.state_dict(), "optimizer": optimizer.state_dict(),
                        "extra": {name: obj.state_dict() for name, obj in extra_state.items()},
                        "rng": ckpt.rng_states(generators), "history": history, "best_state": best_state,
                        "best_epoch": model.best_epoch_, "best_value": best_value, "stale": stale,
                    })  # fmt: skip
                if stop:
                    logger.info("early stop after epoch %d (best epoch %s)", epoch, model.best_epoch_)
                    break
    finally:
        reporter.close()
    if config.checkpoint and not config.keep_checkpoint:
        Path(config.checkpoint).unlink(missing_ok=True)  # the fit is complete: nothing to resume
    if model.resumed_epochs_:
        logger.info(
            "%s: %d epochs in all, %d restored from the checkpoint; %.1f s of training over every leg",
            type(model).__name__, len(history), model.resumed_epochs_,
            sum(float(h.get("seconds") or 0.0) for h in history),
        )  # fmt: skip
    if best_state is not None:
        module.load_state_dict(best_state)
    module.eval()
    return history
