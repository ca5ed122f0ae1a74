"""Content-addressed stage cache: one folder per (stage, key), completed by a marker written last.

A stage's key is the hash of its name, its config section, its seed and the fingerprints of its
inputs (upstream outputs or the raw data file). Its outputs are built in a temporary folder
``stages/<stage>/.tmp-<key>-<pid>``; the marker ``_DONE.json`` (listing a SHA-256 of every output
file) is written last and the folder is then renamed to ``stages/<stage>/<key>``. A folder without
a valid marker is never used, so a run killed at any point (even ``kill -9``) resumes from the last
finished stage.

Tampering: before a cached entry is reused every file is re-hashed against the marker; a
mismatch (edited, removed or added file) is logged as a warning and the stage **re-runs** (the
entry is replaced); it never silently feeds altered data downstream.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recaug import __version__
from recaug.atomic import write_json

MARKER = "_DONE.json"
_CHUNK = 1 << 20


def stable_hash(payload: Any) -> str:
    """SHA-256 (hex) of the canonical JSON form of ``payload``."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def file_sha256(path: Path) -> str:
    """SHA-256 (hex) of one file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def tree_fingerprints(folder: Path) -> dict[str, str]:
    """``{relative path: sha256}`` of every file under ``folder`` except the marker."""
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.name != MARKER:
            out[p.relative_to(folder).as_posix()] = file_sha256(p)
    return out


def path_fingerprint(path: Path) -> str:
    """Fingerprint of an input file or folder (its contents, not its timestamps)."""
    if path.is_dir():
        return stable_hash(tree_fingerprints(path))
    return file_sha256(path)


def stage_key(stage: str, section: Any, inputs: dict[str, str], seed: int | None = None) -> str:
    """Cache key of a stage: its name, settings, seed, input fingerprints and the library version."""
    return stable_hash(
        {"stage": stage, "section": section, "inputs": inputs, "seed": seed, "recaug": __version__}
    )[:20]


@dataclass
class Entry:
    """A finished stage output: its folder and the marker's contents."""

    stage: str
    key: str
    path: Path
    marker: dict[str, Any] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        """Fingerprint of the outputs (what downstream stages key on)."""
        return str(self.marker["fingerprint"])

    @property
    def info(self) -> dict[str, Any]:
        """What the stage reported (rows in/out, extra numbers)."""
        return dict(self.marker.get("info", {}))


class StageCache:
    """The ``stages/`` folder of a run directory."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def folder(self, stage: str, key: str) -> Path:
        """Where the finished output of ``(stage, key)`` lives."""
        return self.root / stage / key

    def lookup(self, stage: str, key: str) -> tuple[Entry | None, str]:
        """``(entry, status)``: status ``"hit"``, ``"miss"`` or ``"tampered"`` (entry is None unless hit)."""
        folder = self.folder(stage, key)
        marker_file = folder / MARKER
        if not marker_file.is_file():
            return None, "miss"
        try:
            marker = json.loads(marker_file.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError, UnicodeDecodeError):
            return None, "tampered"
        if marker.get("key") != key or marker.get("stage") != stage:
            return None, "tampered"
        if tree_fingerprints(folder) != marker.get("files"):
            return None, "tampered"
        return Entry(stage, key, folder, marker), "hit"

    def begin(self, stage: str, key: str) -> Path:
        """A fresh temporary folder to build ``(stage, key)`` in."""
        tmp = self.root / stage / f".tmp-{key}-{os.getpid()}"
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        return tmp

    def commit(
        self, stage: str, key: str, tmp: Path, info: dict[str, Any], extra: dict[str, Any] | None = None
    ) -> Entry:
        """Hash the outputs, write the marker last, and move the folder into place atomically."""
        files = tree_fingerprints(tmp)
        marker = {
            "stage": stage,
            "key": key,
            "files": files,
            "fingerprint": stable_hash(files),
            "info": info,
            **(extra or {}),
        }
        write_json(tmp / MARKER, marker)
        final = self.folder(stage, key)
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        return Entry(stage, key, final, marker)

    def checkpoint_file(self, stage: str, key: str) -> Path:
        """Where ``(stage, key)`` keeps its training checkpoint: it outlives a failed attempt, so
        a resumed run continues the fit from its last epoch. A synthesizer's fit removes it when
        done; a model's keeps its final state there (the train stage keys it without the epoch
        cap, so a rerun with a raised cap continues it; see :mod:`recaug.pipeline.registry`)."""
        return self.root / stage / f".checkpoint-{key}.pt"

    def discard(self, tmp: Path) -> None:
        """Remove a temporary folder of a failed stage."""
        shutil.rmtree(tmp, ignore_errors=True)

    def clean_temporaries(self) -> int:
        """Remove leftovers of killed runs (``.tmp-*`` folders); returns how many."""
        n = 0
        if self.root.is_dir():
            for tmp in self.root.glob("*/.tmp-*"):
                shutil.rmtree(tmp, ignore_errors=True)
                n += 1
        return n
