"""Fitted models and synthesizers reused across benchmark runs (``--cache DIR``).

A control model or a synthesizer is the same object whatever arm it serves: refitting the
Beauty VAE for every run that needs seed 0 cost 17 minutes each time. An entry is keyed by
everything that decides the fit (its settings, the seed, a digest of the data file) *and the
library code that fits it* (``code_version``: git's hash of the committed ``src/`` tree), so a
change to the library never reuses a stale fit, while a change to a benchmark script or the
docs does not throw fits away. A run whose ``src/`` has uncommitted changes neither reads nor
writes the cache (its code has no name). Entries are written atomically; two runs fitting the
same entry at once both fit, the last one is kept. A fit in progress keeps a training checkpoint
next to the entries (:func:`checkpoint_file`) and removes it when it completes.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from recaug.atomic import atomic_dir

T = TypeVar("T")


def code_version(repo: Path) -> str | None:
    """Git's hash of the committed ``src/`` tree of ``repo``; ``None`` if ``src/`` has local changes.

    ``src/`` is what fits a model or a synthesizer; the benchmark decides the rest through the
    settings that enter the key.
    """
    try:
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "src"], cwd=repo, capture_output=True,
                               text=True, check=True).stdout.strip()  # fmt: skip
        tree = subprocess.run(["git", "rev-parse", "HEAD:src"], cwd=repo, capture_output=True, text=True,
                              check=True).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return None
    return None if dirty or not tree else f"src-{tree[:12]}"


def file_digest(path: Path) -> str:
    """SHA-256 of a data file's bytes (part of every key: new data under the same name never hits)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def entry_key(kind: str, settings: dict[str, Any], code: str | None) -> str | None:
    """Folder name of an entry, or ``None`` when the code has no name (``None``, or a ``-dirty``
    ``git describe`` name).

    ``code`` names the code that fits: :func:`code_version` (or a commit).
    """
    if not code or code.endswith("-dirty"):
        return None
    text = json.dumps({"kind": kind, "code": code, **settings}, sort_keys=True, default=str)
    return f"{kind}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def checkpoint_file(cache: Path | None, kind: str, settings: dict[str, Any], code: str | None) -> Path | None:
    """Where a fit keyed like :func:`entry_key` saves its training state after every epoch
    (``TrainConfig.checkpoint``), so a killed benchmark continues the fit it was in; ``None``
    when nothing is cached."""
    if cache is None or (key := entry_key(kind, settings, code)) is None:
        return None
    return cache / f"{key}.ckpt"


def fitted(
    cache: Path | None,
    kind: str,
    settings: dict[str, Any],
    code: str | None,
    fit: Callable[[], tuple[T, dict[str, Any]]],
    load: Callable[[Path], T],
) -> tuple[T, dict[str, Any], bool]:
    """``(object, meta, from_cache)``: the cached fit when there is one, else ``fit()`` (then cached).

    ``fit`` returns the fitted object (with ``save(folder)``) and a JSON-ready ``meta`` (e.g. its
    fit seconds), which a cache hit returns as recorded when the object was fitted.
    """
    key = None if cache is None else entry_key(kind, settings, code)
    if key is None:
        obj, meta = fit()
        return obj, meta, False
    assert cache is not None
    folder = cache / key
    if (folder / "meta.json").is_file():
        doc = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        return load(folder / "object"), doc["meta"], True
    obj, meta = fit()
    with atomic_dir(folder, force=True) as tmp:
        obj.save(tmp / "object")  # type: ignore[attr-defined]
        doc = {"kind": kind, "code": code, "settings": settings, "meta": meta}
        (tmp / "meta.json").write_text(json.dumps(doc, indent=2, sort_keys=True, default=str), encoding="utf-8")
    return obj, meta, False
