"""``Preprocessor``: run steps in order, timing each and counting the rows it dropped and why."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from recaug.data.dataset import Dataset
from recaug.errors import ConfigError
from recaug.preprocess.base import Step
from recaug.preprocess.dedup import Deduplicate
from recaug.preprocess.events import EventFilter
from recaug.preprocess.kcore import KCore
from recaug.preprocess.length import MinLength
from recaug.preprocess.remap import RemapIds
from recaug.preprocess.sessions import Sessionize
from recaug.preprocess.time_window import TimeWindow

log = logging.getLogger("recaug.preprocess")

#: Config name -> step class (``{"step": "kcore", "user_k": 5}``).
STEPS: dict[str, type[Step]] = {
    cls.name: cls for cls in (Deduplicate, KCore, MinLength, EventFilter, Sessionize, TimeWindow, RemapIds)
}
_ALIASES = {"deduplicate": "dedup", "k_core": "kcore", "remap_ids": "remap", "min_len": "min_length",
            "events": "event_filter", "sessions": "sessionize", "window": "time_window"}


@dataclass(frozen=True)
class StepReport:
    """What one step did: rows in/out, rows dropped per reason, wall time, extra info."""

    step: str
    rows_in: int
    rows_out: int
    dropped: dict[str, int]
    seconds: float
    description: str = ""
    info: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"step": self.step, "rows_in": self.rows_in, "rows_out": self.rows_out,
                "dropped": dict(self.dropped), "seconds": self.seconds,
                "description": self.description, "info": dict(self.info)}

    def line(self) -> str:
        """One log line."""
        why = ", ".join(f"{k}={v}" for k, v in self.dropped.items() if v) or "nothing dropped"
        extra = "".join(f", {k}={v}" for k, v in self.info.items())
        return (f"{self.step}: {self.rows_in} -> {self.rows_out} rows ({why}{extra}) "
                f"in {self.seconds:.3f} s")


@dataclass(eq=False)
class PreprocessResult:
    """The preprocessed dataset and one report per step."""

    dataset: Dataset
    reports: list[StepReport]

    def summary(self) -> str:
        """The report lines, one per step."""
        return "\n".join(r.line() for r in self.reports)


class Preprocessor:
    """Runs ``steps`` in order; each step gets the previous step's output."""

    def __init__(self, steps: Iterable[Step]) -> None:
        self.steps = list(steps)
        for s in self.steps:
            if not isinstance(s, Step):
                raise ConfigError(f"preprocess: {s!r} is not a preprocessing step")

    @classmethod
    def default(cls) -> Preprocessor:
        """Consecutive dedup (strongest event of a run survives), 5-core on users and items, then compact ids."""
        return cls([Deduplicate(mode="consecutive", keep="strongest"), KCore(user_k=5, item_k=5), RemapIds()])

    @classmethod
    def from_config(cls, config: Iterable[Mapping[str, Any]]) -> Preprocessor:
        """Build from ``[{"step": "kcore", "user_k": 5}, ...]``; unknown steps or keys raise ConfigError."""
        steps: list[Step] = []
        for pos, entry in enumerate(config):
            if not isinstance(entry, Mapping) or "step" not in entry:
                raise ConfigError(f"preprocess[{pos}]: expected a mapping with a 'step' key, got {entry!r}")
            name = str(entry["step"])
            key = _ALIASES.get(name, name)
            if key not in STEPS:
                raise ConfigError(f"preprocess[{pos}]: unknown step {name!r}; known steps: {sorted(STEPS)}")
            step_cls = STEPS[key]
            settings = {k: v for k, v in entry.items() if k != "step"}
            allowed = step_cls.config_keys()
            unknown = [k for k in settings if k not in allowed]
            if unknown:
                raise ConfigError(
                    f"preprocess[{pos}] ({key}): unknown key(s) {unknown}; allowed: {allowed}"
                )
            try:
                steps.append(step_cls(**settings))
            except TypeError as exc:
                raise ConfigError(f"preprocess[{pos}] ({key}): {exc}") from None
        return cls(steps)

    def to_config(self) -> list[dict[str, Any]]:
        """The config list that :meth:`from_config` reads back."""
        return [s.to_config() for s in self.steps]

    def describe(self) -> str:
        """One line per step."""
        return "\n".join(f"{i + 1}. {s.describe()}" for i, s in enumerate(self.steps))

    def run(self, dataset: Dataset) -> PreprocessResult:
        """Apply every step; logs one line per step to ``recaug.preprocess``."""
        reports: list[StepReport] = []
        current = dataset
        for step in self.steps:
            rows_in = len(current.interactions)
            t0 = time.perf_counter()
            current, dropped, info = step._apply(current)
            seconds = time.perf_counter() - t0
            report = StepReport(step.name, rows_in, len(current.interactions), dropped, seconds,
                                step.describe(), info)
            log.info(report.line())
            reports.append(report)
        return PreprocessResult(current, reports)

    def __repr__(self) -> str:
        return f"Preprocessor({self.steps!r})"
