"""Atomic, marked outputs: write to a temporary sibling, then rename, so a crash never leaves half a file.

Every output folder recaug writes carries a marker file (:data:`MARKER`). ``force`` replaces an
existing folder only when it carries the marker (or is empty): recaug replaces only what recaug
itself wrote, never a folder of the user's own files. :func:`check_output` also refuses an output
path that is, or contains, one of the command's inputs.

Renamed outputs get the modes the user's umask gives new files (``tempfile`` creates them
private: 0700 folders, 0600 files).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from recaug import __version__
from recaug.errors import OutputError, OutputExistsError

#: The file that marks a folder as written by recaug; it holds ``recaug VERSION KIND``.
MARKER = ".recaug"
#: Markers of earlier versions (run directories), still recognised.
LEGACY_MARKERS = (".recaug-run",)


def write_marker(folder: str | Path, kind: str = "output") -> None:
    """Mark ``folder`` as a recaug output of ``kind`` (``output``, ``run`` ...)."""
    write_text(Path(folder) / MARKER, f"recaug {__version__} {kind}\n")


def marker_kind(folder: str | Path) -> str | None:
    """The kind written in ``folder``'s marker (``"run"`` for legacy run markers), or None if unmarked."""
    folder = Path(folder)
    try:
        words = (folder / MARKER).read_text(encoding="utf-8").split()
    except (OSError, UnicodeDecodeError):
        words = []
    if words[:1] == ["recaug"]:
        return words[2] if len(words) > 2 else "output"
    if any((folder / name).is_file() for name in LEGACY_MARKERS):
        return "run"
    return None


def is_recaug_output(folder: str | Path) -> bool:
    """Whether ``folder`` carries a recaug marker (so ``force`` may replace it)."""
    return marker_kind(folder) is not None


def check_inputs(target: str | Path, inputs: Iterable[str | Path]) -> None:
    """Raise :class:`OutputExistsError` if output ``target`` is, or is a folder containing, an input."""
    where = Path(os.path.abspath(target)).resolve()
    for given in inputs:
        source = Path(os.path.abspath(given)).resolve()
        if source.is_relative_to(where):
            what = "is" if source == where else "contains"
            raise OutputExistsError(f"output {target} {what} the input {given}; choose another output path")


def check_output(target: str | Path, *, force: bool, inputs: Iterable[str | Path] = ()) -> None:
    """Raise :class:`OutputExistsError` unless output folder ``target`` may be written.

    Refused: a ``target`` that is or contains one of ``inputs``; a non-empty folder without the
    recaug marker or a file (even with ``force``: recaug did not write them); an existing
    output without ``force``.
    """
    target = Path(target)
    check_inputs(target, inputs)
    if not target.exists():
        return
    if target.is_dir():
        if not any(target.iterdir()):
            return
        if not is_recaug_output(target):
            raise OutputExistsError(
                f"output {target} holds files recaug did not write; choose another path "
                "(--force replaces only folders recaug wrote)"
            )
    else:
        raise OutputExistsError(f"output {target} is a file that recaug did not write; choose another path")
    if not force:
        raise OutputExistsError(f"output {target} already exists; pass --force (force=True) to replace it")


def current_umask() -> int:
    """The process umask (read from ``/proc`` where possible, so it is never changed even briefly)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def apply_umask(path: Path) -> None:
    """Give ``path`` (recursively, for a folder) the modes new files get: 0o777/0o666 minus the umask."""
    mask = current_umask()
    dir_mode, file_mode = 0o777 & ~mask, 0o666 & ~mask
    if not path.is_dir():
        os.chmod(path, file_mode)
        return
    os.chmod(path, dir_mode)
    for root, dirs, files in os.walk(path):
        for name in dirs:
            os.chmod(os.path.join(root, name), dir_mode)
        for name in files:
            full = os.path.join(root, name)
            if not os.path.islink(full):
                os.chmod(full, file_mode)


def write_error(target: Path, exc: OSError) -> OutputError:
    """A one-line error naming ``target`` (not a temporary path) for an OS error while creating it."""
    reason = exc.strerror or type(exc).__name__
    return OutputError(f"cannot write output {target}: {reason} (is {target.parent} writable?)")


@contextlib.contextmanager
def atomic_dir(target: str | Path, *, force: bool = False) -> Iterator[Path]:
    """Yield a temporary directory that replaces ``target`` only if the block succeeds.

    Refuses an existing non-empty ``target`` unless ``force``, and even then unless recaug wrote
    it (see :func:`check_output`); the user's data is never overwritten. The new folder carries
    the marker and the modes of the umask.
    """
    target = Path(target)
    check_output(target, force=force)
    final = Path(os.path.abspath(target))
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
    except OSError as exc:
        raise write_error(target, exc) from None
    try:
        write_marker(tmp)
        yield tmp
        apply_umask(tmp)
        if final.exists():
            old = final.with_name(f".{final.name}.old-{os.getpid()}")
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextlib.contextmanager
def atomic_file(target: str | Path, *, force: bool = True) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; rename it over ``target`` when the block succeeds."""
    target = Path(target)
    if target.exists() and not force:
        raise OutputExistsError(f"output {target} already exists; pass --force (force=True) to replace it")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.tmp-", dir=target.parent)
    except OSError as exc:
        raise write_error(target, exc) from None
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        if tmp.exists():
            apply_umask(tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text(target: str | Path, text: str) -> None:
    """Write ``text`` to ``target`` atomically (UTF-8)."""
    with atomic_file(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(target: str | Path, payload: Any, *, finite: bool = False) -> None:
    """``payload`` as pretty JSON (indent 2) in ``target``, atomically: recaug's one JSON writer.

    Objects JSON cannot hold are written as their ``str``. ``finite``: NaN and infinities become
    ``null`` (strict readers reject them); otherwise they are written as ``NaN`` / ``Infinity``.
    """
    write_text(target, json.dumps(finite_json(payload) if finite else payload, indent=2, default=str))


def finite_json(obj: Any) -> Any:
    """``obj`` with every NaN / infinite float (in nested dicts, lists, tuples) replaced by ``None``."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: finite_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [finite_json(v) for v in obj]
    return obj
