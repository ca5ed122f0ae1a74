"""Fusion of real and synthetic interactions: ratios, quotas, weights, provenance, consistency filtering."""

from recaug.fuse.consistency import ConsistencyFilter
from recaug.fuse.fuser import (
    DEFAULT_HELD_OUT_HITS,
    HELD_OUT_HITS_MODES,
    Fuser,
    HeldOutHits,
    check_item_codes,
    fuse,
    held_out_hits_kept,
)
from recaug.fuse.report import FuseReport

__all__ = [
    "DEFAULT_HELD_OUT_HITS",
    "HELD_OUT_HITS_MODES",
    "ConsistencyFilter",
    "FuseReport",
    "Fuser",
    "HeldOutHits",
    "check_item_codes",
    "fuse",
    "held_out_hits_kept",
]
