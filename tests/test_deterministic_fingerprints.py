"""Stage fingerprints do not depend on input row order or on Polars ``group_by`` order (issue 35, A.1).

The data has ties everywhere a count is written (categories, events, per-user lengths), and the
second run reads the same interactions with their rows shuffled: every file that feeds a stage
fingerprint (``summary.md``, the fuse stage's ``quality/plot_data.json``) must come out
byte-identical, so both runs share every cache key from ``preprocess`` on.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from recaug import columns as C
from recaug.data.dataset import Dataset
from recaug.data.describe import describe, describe_markdown
from recaug.data.interactions import Interactions
from recaug.pipeline import run_pipeline, validate_config
from recaug.quality import distributions as D

N_CATEGORIES = 8
EVENTS = ("view", "cart", "buy", "like")


def tied_log(n_users: int = 96) -> pl.DataFrame:
    """Every category and event has the same number of rows; users have 8, 16 or 24 rows (so their
    order shows in the per-user lengths); timestamps are unique per user."""
    lengths = 8 * (1 + np.arange(n_users) % 3)
    users = np.repeat(np.arange(n_users), lengths)
    pos = np.concatenate([np.arange(n) for n in lengths])
    category = (users + pos) % N_CATEGORIES
    items = N_CATEGORIES * ((users * 3 + pos) % 6) + category
    return pl.DataFrame({
        "user": [f"u{u:03d}" for u in users],
        "item": [f"i{i:03d}" for i in items],
        "timestamp": 1_000 + users * 100 + pos,
        "event": [EVENTS[(u + p) % len(EVENTS)] for u, p in zip(users, pos, strict=True)],
        "category": [f"c{c}" for c in category],
    })  # fmt: skip


def shuffled(frame: pl.DataFrame, seed: int) -> pl.DataFrame:
    return frame.sample(fraction=1.0, shuffle=True, seed=seed)


def config(path: Path) -> dict[str, Any]:
    return {
        "name": "tied",
        "data": {"path": str(path), "format": "csv", "columns": {"event": "event", "category": "category"}},
        "preprocess": {"steps": [{"step": "dedup", "mode": "consecutive"}, {"step": "remap"}]},
        "train": {"model": "pop"},
        "fuse": {"quality": True, "quality_discriminator": False},
        "seeds": [0],
        "variants": {"control": {}, "crop": {"expand": {"policy": {"op": "crop", "eta": 0.6}, "n_views": 1}}},
    }


def test_describe_breaks_ties_by_key() -> None:
    frame = tied_log()
    pages = set()
    for seed in range(4):
        f = shuffled(frame, seed)
        items = f.select(pl.col("item").alias(C.ITEM), pl.col("category").alias(C.CATEGORY)).unique(C.ITEM)
        ds = Dataset.from_frame(
            f.select(
                pl.col("user").alias(C.USER), pl.col("item").alias(C.ITEM), pl.col("timestamp").alias(C.TIME),
                pl.col("event").alias(C.EVENT),
            ),
            items=items,
        )  # fmt: skip
        stats = describe(ds)
        assert list(stats["categories"]["interactions"]) == [f"c{i}" for i in range(N_CATEGORIES)]
        assert list(stats["events"]) == sorted(EVENTS)  # all tied: key order
        pages.add(describe_markdown(stats))
    assert len(pages) == 1


def test_quality_counts_are_in_key_order() -> None:
    inter = Interactions(
        pl.DataFrame({C.USER: np.repeat(np.arange(40), 3), C.ITEM: np.tile([2, 3, 4], 40), C.TIME: np.arange(120)})
    )
    for _ in range(3):
        assert D.user_lengths(inter).tolist() == [3] * 40
        s = D.shares(inter.frame.sample(fraction=1.0, shuffle=True, seed=1), [C.USER])
        assert s.get_column(C.USER).to_list() == list(range(40))
        c = D.counts(inter.frame, [C.USER])
        assert c.get_column(C.USER).to_list() == list(range(40))


def test_shuffled_input_gives_identical_fingerprints(tmp_path: Path) -> None:
    frame = tied_log()
    runs = []
    for name, data in (("ordered", frame), ("shuffled", shuffled(frame, 7))):
        (tmp_path / "input" / name).mkdir(parents=True)
        path = tmp_path / "input" / name / "log.csv"  # same file name: the dataset is named after it
        data.write_csv(path)
        runs.append(run_pipeline(validate_config(config(path)), tmp_path / name, only=["fuse"]))
    first, second = ({(s["stage"], s["variant"]): s for s in r.stages} for r in runs)
    assert first.keys() == second.keys()
    assert first["data", None]["inputs"] != second["data", None]["inputs"]  # different file bytes ...
    for stage in first:
        if stage[0] != "data":  # ... same data: every later stage has the same inputs, hence key
            assert first[stage]["inputs"] == second[stage]["inputs"], stage
            assert first[stage]["key"] == second[stage]["key"], stage
    a, b = (r.run_dir / "stages" for r in runs)
    for stage in ("data", "preprocess"):
        dirs = [next((root / stage).glob("*/dataset/summary.md")) for root in (a, b)]
        assert dirs[0].read_bytes() == dirs[1].read_bytes(), stage
    plots = [next((root / "fuse").glob("*/quality/plot_data.json")) for root in (a, b)]
    assert plots[0].read_bytes() == plots[1].read_bytes()
    summary = next((a / "preprocess").glob("*/dataset/summary.md")).read_text()
    order = [line.split("|")[1].strip() for line in summary.splitlines() if re.match(r"\| c\d ", line)]
    assert order == [f"c{i}" for i in range(N_CATEGORIES)]
