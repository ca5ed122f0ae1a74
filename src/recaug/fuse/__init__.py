"""Fusion of real and synthetic interactions: ratios, quotas, weights, provenance, consistency filtering."""

from recaug.fuse.consistency import ConsistencyFilter
from recaug.fuse.fuser import Fuser, fuse
from recaug.fuse.report import FuseReport

__all__ = ["ConsistencyFilter", "FuseReport", "Fuser", "fuse"]
