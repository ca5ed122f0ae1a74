"""Split protocols: who is trained on what, and which (user, item) pairs are held out."""

from recaug.split.base import Protocol, Split
from recaug.split.leave_last_out import LeaveLastOut
from recaug.split.temporal import TemporalSplit

__all__ = ["LeaveLastOut", "Protocol", "Split", "TemporalSplit"]
