"""Helpers the stage commands share: reading inputs, splitting, writing split folders, stage lines.

These are small glue functions the library does not (yet) offer in this shape; the work itself
is done by ``recaug.split``, ``recaug.pipeline.stages`` and friends.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import polars as pl

from recaug import columns as C
from recaug.atomic import write_json
from recaug.cli._common import load_any, say
from recaug.data.dataset import Dataset
from recaug.data.interactions import Interactions
from recaug.errors import ConfigError, DataError
from recaug.split.base import Split

log = logging.getLogger("recaug.cli")

SPLIT_PARTS = ("train", "valid", "test")
PROTOCOLS = ("leave_last_out", "temporal")


# -- splitting ----------------------------------------------------------------------------------
def split_settings(protocol: str) -> dict[str, Any]:
    """The pipeline's ``split`` section for ``protocol`` with its defaults (ConfigError if unknown)."""
    from recaug.pipeline.config import SplitConfig

    if protocol not in PROTOCOLS:
        raise ConfigError(f"--split {protocol!r}: choose one of {', '.join(PROTOCOLS)}")
    return SplitConfig(protocol=protocol).model_dump(mode="json")  # type: ignore[arg-type]


def make_split(interactions: Interactions, settings: dict[str, Any]) -> Split:
    """Split ``interactions`` by a ``split`` section (see :func:`split_settings`)."""
    from recaug.split import LeaveLastOut, TemporalSplit

    if settings["protocol"] == "leave_last_out":
        protocol: Any = LeaveLastOut(
            n_valid=settings["n_valid"],
            n_test=settings["n_test"],
            min_train=settings["min_train"],
            # models saved before the setting existed were split with every row kept
            duplicates=settings.get("duplicates", "keep"),
        )
    else:
        protocol = TemporalSplit(
            valid_at=settings["valid_at"],
            test_at=settings["test_at"],
            require_train_history=settings["require_train_history"],
        )
    split = protocol.split(interactions)
    if len(split.train) == 0 or len(split.test) == 0:
        raise DataError(
            f"the {settings['protocol']} split left {len(split.train)} training and {len(split.test)} test rows",
            expected="users with at least 3 interactions",
        )
    return split


def write_split(split: Split, folder: Path) -> None:
    """``train/valid/test.parquet`` + ``protocol.json`` in the pipeline's split-stage format."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in SPLIT_PARTS:
        getattr(split, name).frame.write_parquet(folder / f"{name}.parquet")
    p = split.protocol
    doc = {
        "split": p.split,
        "params": p.params,
        "candidates": p.candidates,
        "history_masking": p.history_masking,
    }
    write_json(folder / "protocol.json", doc)


def is_split_folder(path: Path) -> bool:
    """Whether ``path`` holds a split written by :func:`write_split` (or a pipeline split stage)."""
    return path.is_dir() and all((path / f"{p}.parquet").is_file() for p in SPLIT_PARTS)


# -- inputs ---------------------------------------------------------------------------------
def load_data(path: Path, format: str = "auto") -> Dataset:
    """A dataset folder or a raw file/folder (``--format``)."""
    return load_any(path, format=format)


def read_interactions(path: Path) -> tuple[Interactions, Dataset | None, Split | None]:
    """Interactions from a dataset folder, a split folder (its train part) or a Parquet file.

    Returns the interactions, the dataset (for its item table) when ``path`` is a dataset
    folder, and the split when ``path`` is a split folder.
    """
    from recaug.pipeline.stages import load_split

    if not path.exists():
        raise DataError("no such file or folder", file=path, expected="a dataset folder or a Parquet file")
    if path.is_dir() and (path / "schema.json").is_file():
        dataset = Dataset.load(path)
        return dataset.interactions, dataset, None
    if is_split_folder(path):
        split = load_split(path)
        return split.train, None, split
    if path.is_file() and path.suffix == ".parquet":
        try:
            frame = pl.read_parquet(path)
        except Exception as exc:
            raise DataError(f"unreadable Parquet file: {exc}", file=path) from None
        missing = [c for c in (C.USER, C.ITEM) if c not in frame.columns]
        if missing:
            raise DataError(
                f"missing column(s) {missing}", file=path, expected=f"columns {C.USER!r} and {C.ITEM!r}"
            )
        require_integer_codes(frame, path)
        if C.TIME not in frame.columns:
            frame = frame.with_columns(pl.int_range(pl.len()).over(C.USER).cast(pl.Int64).alias(C.TIME))
        try:
            return Interactions(frame, sort=False), None, None
        except (ValueError, TypeError, pl.exceptions.PolarsError) as exc:
            raise DataError(f"not recaug interactions: {exc}", file=path) from None
    raise DataError(
        "not a dataset folder, split folder or Parquet file",
        file=path,
        expected="a folder written by `recaug data import` or a .parquet interaction file",
    )


def require_integer_codes(frame: pl.DataFrame, path: Path) -> None:
    """Raise a one-line :class:`DataError` (file, column, expected type) unless user/item codes are integers.

    Polars would otherwise parse digit strings and truncate floats (3.7 -> 3) silently.
    """
    for column in (C.USER, C.ITEM):
        if column in frame.columns and not frame.schema[column].is_integer():
            raise DataError(
                f"has type {frame.schema[column]}",
                file=path,
                column=column,
                expected="integer codes (Int32) from the split's vocabulary",
            )


def catalogue_size(train: Interactions, dataset: Dataset | None, split: Split | None) -> int:
    """The item code space of REAL (``Vocabulary.item_space``): valid codes are ``2 .. size - 1``.

    From the dataset's vocabulary, else from the largest item code in the split's parts (or in
    ``train`` alone for a plain Parquet file); codes are dense, so that is the catalogue.
    """
    if dataset is not None:
        return dataset.vocab.item_space
    frames = [train.frame] if split is None else [getattr(split, p).frame for p in SPLIT_PARTS]
    return max((int(f.get_column(C.ITEM).max()) for f in frames if f.height), default=C.N_RESERVED - 1) + 1


def views_as_users(frame: pl.DataFrame, first_user: int) -> pl.DataFrame:
    """Expanded sequences (a ``sequence`` column, as ``recaug expand`` writes) as new synthetic users."""
    if "sequence" not in frame.columns:
        return frame
    keep = [c for c in frame.columns if c not in ("sequence", "view", "origin")]
    return frame.with_columns((pl.col("sequence") + first_user).cast(pl.Int32).alias(C.USER)).select(keep)


def first_new_user(train: Interactions, split: Split | None) -> int:
    """A user code above every real user (train, and the held-out parts when the split is known)."""
    frames = [train.frame] if split is None else [getattr(split, p).frame for p in SPLIT_PARTS]
    return max(int(f.get_column(C.USER).max() or 0) for f in frames if f.height) + 1 if len(train) else 0


def read_synthetic(path: Path, first_user: int, *, only_synthetic: bool = False) -> Interactions:
    """Synthetic interactions from ``path`` (Parquet file or dataset folder).

    Expanded views (a ``sequence`` column, as ``recaug expand`` writes) become new users numbered
    from ``first_user``. Rows labelled ``real`` are relabelled ``synthetic`` -- unless
    ``only_synthetic`` and the file mixes both (e.g. a fused ``train.parquet``): then only the
    non-real rows are kept.
    """
    if path.is_file() and path.suffix == ".parquet":
        try:
            frame = pl.read_parquet(path)
        except Exception as exc:
            raise DataError(f"unreadable Parquet file: {exc}", file=path) from None
        if "sequence" in frame.columns:
            require_integer_codes(frame, path)
            frame = views_as_users(frame, first_user)
            if C.TIME not in frame.columns:
                frame = frame.with_columns(pl.int_range(pl.len()).over(C.USER).cast(pl.Int64).alias(C.TIME))
            try:
                interactions = Interactions(frame, sort=False)
            except DataError as exc:
                raise DataError(str(exc), file=path) from None
        else:
            interactions, _, _ = read_interactions(path)
    else:
        interactions, _, _ = read_interactions(path)
    frame = interactions.frame
    is_real = frame.get_column(C.SOURCE) == C.REAL
    if only_synthetic and is_real.any() and not is_real.all():
        log.info("%s: using its %d non-real rows as the synthetic data", path, int((~is_real).sum()))
        return Interactions(frame.filter(~is_real), sort=False)
    if is_real.any():
        log.warning("%s: rows labelled 'real' are treated as synthetic (source set to 'synthetic')", path)
        source = pl.when(pl.col(C.SOURCE) == C.REAL).then(pl.lit("synthetic")).otherwise(pl.col(C.SOURCE))
        interactions = Interactions(frame.with_columns(source.alias(C.SOURCE)), sort=False)
    return interactions


# -- stage lines ----------------------------------------------------------------------------
class StageLines(logging.Handler):
    """Prints one stdout line per pipeline stage record (``recaug.pipeline`` logs with ``stage``)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        stage = getattr(record, "stage", None)
        status = getattr(record, "status", None)
        if stage is None or status is None:
            return
        variant = getattr(record, "variant", None)
        label = stage if variant is None else f"{stage} [{variant}, seed {getattr(record, 'seed', None)}]"
        rows_in, rows_out = getattr(record, "rows_in", None), getattr(record, "rows_out", None)
        rows = f"{_n(rows_in)} -> {_n(rows_out)} rows" if rows_out is not None else ""
        seconds = getattr(record, "seconds", None)
        secs = f"{seconds:7.2f} s" if isinstance(seconds, int | float) else " " * 9
        line = f"{label:<34} {status:<7} {rows:<28} {secs}".rstrip()
        self.lines.append(line)
        say(line)


def _n(value: Any) -> str:
    return "-" if value is None else f"{int(value):,}"


class _NotStageRecords(logging.Filter):
    """Drops ``recaug.pipeline`` stage records (printed on stdout instead)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return getattr(record, "stage", None) is None or getattr(record, "status", None) is None


class stage_lines:
    """Context: print pipeline stage lines on stdout; ``quiet_logs`` raises stderr logs to WARNING.

    ``-v`` keeps every log line regardless.
    """

    def __init__(self, *, quiet_logs: bool) -> None:
        self.quiet_logs = quiet_logs
        self.handler = StageLines()
        self._filter = _NotStageRecords()
        self._levels: list[tuple[logging.Handler, int]] = []

    def __enter__(self) -> StageLines:
        from recaug.cli._common import state

        logger = logging.getLogger("recaug")
        logging.getLogger("recaug.pipeline").addHandler(self.handler)
        for h in logger.handlers:
            if getattr(h, "_recaug_cli_handler", False):
                h.addFilter(self._filter)
                if self.quiet_logs and not state.verbose:
                    self._levels.append((h, h.level))
                    h.setLevel(logging.WARNING)
        return self.handler

    def __exit__(self, *exc: object) -> None:
        logging.getLogger("recaug.pipeline").removeHandler(self.handler)
        for h in logging.getLogger("recaug").handlers:
            h.removeFilter(self._filter)
        for h, level in self._levels:
            h.setLevel(level)
