"""The run directory: its layout, ownership checks, the manifest and the JSON-lines log.

Layout::

    RUN/
      .recaug                marks the folder as a recaug run (``recaug VERSION run``, written first;
                             runs of earlier versions have ``.recaug-run``)
      config.resolved.yaml   the validated config with every default and absolute paths
      manifest.json          versions, seeds, device, one entry per stage execution (timings,
                             peak memory, rows in/out, input fingerprints, ran/cached)
      protocol.json          the evaluation protocol (split + ranking)
      logs.jsonl             one JSON object per log record of the ``recaug`` loggers
      results.json           per variant and seed: where its outputs are and its summaries
      stages/<stage>/<key>/  cached stage outputs (dataset Parquet, split, models, per-user results)
      stages/<stage>/.checkpoint-<key>.pt
                             training state of generate/train: a fit in progress, or a finished
                             model's final state (a raised epoch cap continues it)
      report.html / report.md / report.json
"""

from __future__ import annotations

import json
import logging
import platform
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from recaug import __version__
from recaug.atomic import is_recaug_output, marker_kind, write_error, write_json, write_marker
from recaug.errors import OutputExistsError

#: The marker kind of a run directory (see :mod:`recaug.atomic`).
RUN_KIND = "run"


def is_run_dir(path: Path) -> bool:
    """Whether ``path`` holds a recaug run: its marker says so (a ``manifest.json`` alone does not:
    any folder may hold a file of that name)."""
    return marker_kind(path) == RUN_KIND


def prepare_run_dir(path: Path, *, resume: bool, force: bool) -> None:
    """Create ``path`` or accept it; refuse a non-empty folder unless ``resume`` (a run) or ``force``.

    ``force`` replaces only a folder recaug wrote (it carries the marker, or is a run); a folder
    of other files is refused, never deleted.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputExistsError(f"output {path} exists and is not a folder")
    if path.is_dir() and any(path.iterdir()):
        if not (is_recaug_output(path) or is_run_dir(path)):
            raise OutputExistsError(
                f"output {path} holds files recaug did not write; choose another folder "
                "(--force replaces only folders recaug wrote)"
            )
        if force:
            shutil.rmtree(path)
        elif resume:
            if not is_run_dir(path):
                raise OutputExistsError(
                    f"output {path} holds another recaug output, not a run; choose another folder or pass force"
                )
        else:
            what = "another run" if is_run_dir(path) else "another recaug output"
            raise OutputExistsError(
                f"output {path} already holds {what}; pass resume=True (--resume) to continue it "
                "or force=True (--force) to replace it"
            )
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_error(path, exc) from None
    write_marker(path, RUN_KIND)


def versions() -> dict[str, str]:
    """Versions of Python, recaug and the main libraries."""
    out = {"python": platform.python_version(), "recaug": __version__, "platform": platform.platform()}
    for mod in ("numpy", "polars", "pyarrow", "torch", "pydantic", "scipy"):
        m = sys.modules.get(mod)
        if m is None:
            try:
                m = __import__(mod)
            except ImportError:
                continue
        out[mod] = str(getattr(m, "__version__", "?"))
    return out


def read_json(path: Path, default: Any = None) -> Any:
    """A JSON file, or ``default`` when it does not exist."""
    if not path.is_file():
        return default
    return json.loads(path.read_text(encoding="utf-8"))


class JsonLinesHandler(logging.Handler):
    """Appends one JSON object per record (time, level, logger, message and any ``extra`` fields)."""

    _STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}

    def __init__(self, path: Path) -> None:
        super().__init__(logging.INFO)
        self.path = path
        self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 (closed in close())

    def emit(self, record: logging.LogRecord) -> None:
        try:
            doc = {
                "time": round(record.created, 3),
                "level": record.levelname,
                "logger": record.name,
                "message": record.getMessage(),
            }
            doc.update({k: v for k, v in record.__dict__.items() if k not in self._STANDARD})
            self._file.write(json.dumps(doc, default=str) + "\n")
            self._file.flush()
        except Exception:  # a log line must never break a run
            self.handleError(record)

    def close(self) -> None:
        self._file.close()
        super().close()


class attach_json_log:  # noqa: N801 (used as a context manager)
    """Context manager: log ``recaug.*`` records at INFO and above to ``logs.jsonl``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.handler: JsonLinesHandler | None = None
        self.old_level = logging.NOTSET

    def __enter__(self) -> JsonLinesHandler:
        logger = logging.getLogger("recaug")
        self.handler = JsonLinesHandler(self.path)
        logger.addHandler(self.handler)
        self.old_level = logger.level
        if logger.getEffectiveLevel() > logging.INFO:
            logger.setLevel(logging.INFO)
        return self.handler

    def __exit__(self, *exc: object) -> None:
        logger = logging.getLogger("recaug")
        if self.handler is not None:
            logger.removeHandler(self.handler)
            self.handler.close()
        logger.setLevel(self.old_level)


class Manifest:
    """``manifest.json``: accumulated over every invocation that worked on the run directory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.doc: dict[str, Any] = read_json(path, default=None) or {
            "format": "recaug-run",
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "invocations": [],
        }

    def start(
        self, *, config_hash: str, seeds: list[int], device: str, resume: bool, only: list[str] | None
    ) -> None:
        """Begin a new invocation record (``stages`` lists what this invocation did)."""
        self.doc["versions"] = versions()
        self.doc["seeds"] = seeds
        self.doc["device"] = device
        self.doc["config_hash"] = config_hash
        self.doc["stages"] = []
        for earlier in self.doc["invocations"]:
            if earlier.get("status") == "running":  # its process never finished: killed (SIGKILL, power)
                earlier["status"] = "killed"
        self.doc["invocations"].append(
            {
                "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
                "resume": resume,
                "only": only,
                "status": "running",
            }
        )
        self.save()

    def add_stage(self, entry: dict[str, Any]) -> None:
        """Record one stage execution (or cache hit)."""
        self.doc["stages"].append(entry)
        self.save()

    def finish(self, status: str, seconds: float, error: str | None = None) -> None:
        """Close the current invocation record."""
        inv = self.doc["invocations"][-1]
        inv.update(
            {"status": status, "seconds": round(seconds, 3), "finished": time.strftime("%Y-%m-%dT%H:%M:%S")}
        )
        if error:
            inv["error"] = error
        self.save()

    def save(self) -> None:
        """Write atomically."""
        write_json(self.path, self.doc)
