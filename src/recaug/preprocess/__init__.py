"""Preprocessing steps: each takes a ``Dataset``, returns a new one, and reports what it dropped.

>>> result = Preprocessor.default().run(dataset)   # dedup consecutive + 5-core + remap
>>> result.dataset, result.reports
"""

from recaug.preprocess.base import Step
from recaug.preprocess.dedup import Deduplicate
from recaug.preprocess.events import DEFAULT_EVENT_WEIGHTS, EventFilter
from recaug.preprocess.kcore import KCore, kcore_mask
from recaug.preprocess.length import MinLength
from recaug.preprocess.pipeline import STEPS, Preprocessor, PreprocessResult, StepReport
from recaug.preprocess.remap import RemapIds
from recaug.preprocess.sessions import Sessionize
from recaug.preprocess.time_window import TimeWindow

__all__ = [
    "DEFAULT_EVENT_WEIGHTS",
    "STEPS",
    "Deduplicate",
    "EventFilter",
    "KCore",
    "MinLength",
    "PreprocessResult",
    "Preprocessor",
    "RemapIds",
    "Sessionize",
    "Step",
    "StepReport",
    "TimeWindow",
    "kcore_mask",
]
