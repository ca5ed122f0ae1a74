"""What every command shares: global flags, consoles, logging set-up and error reporting."""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import traceback
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console

from recaug.data.dataset import Dataset
from recaug.errors import ConfigError, DataError, RecaugError

#: Exit codes of every command.
EXIT_OK, EXIT_USAGE, EXIT_FAILURE = 0, 2, 3

#: Results go to stdout, logs and errors to stderr (so ``--json`` output stays parseable).
# Not a terminal (CI logs, pipes): rich would fall back to 80 columns and truncate tables.
_WIDTH = None if sys.stdout.isatty() else 160
out = Console(highlight=False, soft_wrap=True, width=_WIDTH)
err = Console(stderr=True, highlight=False, soft_wrap=True, width=None if sys.stderr.isatty() else 160)

_HANDLER_TAG = "_recaug_cli_handler"


@dataclass
class CliState:
    """Global flags given before the sub-command."""

    verbose: bool = False
    quiet: bool = False


state = CliState()


def configure(*, verbose: bool, quiet: bool) -> None:
    """Record the global flags and attach one stderr handler to the ``recaug`` logger."""
    state.verbose, state.quiet = verbose, quiet
    logger = logging.getLogger("recaug")
    for handler in [h for h in logger.handlers if getattr(h, _HANDLER_TAG, False)]:
        logger.removeHandler(handler)
    handler = _StderrHandler()
    setattr(handler, _HANDLER_TAG, True)
    if verbose:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
        )
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time of the record (test runners swap it)."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:  # StreamHandler.__init__ assigns it; ignore
        pass


def say(text: str) -> None:
    """A progress or result line on stdout, unless ``--quiet``."""
    if not state.quiet:
        out.print(text, markup=False)


def print_json(payload: Any) -> None:
    """Plain JSON on stdout (never suppressed, never styled)."""
    typer.echo(json.dumps(payload, indent=2, default=str))


@contextlib.contextmanager
def reporting_errors() -> Iterator[None]:
    """Turn exceptions into one stderr line and an exit code (2 usage/config, 3 runtime).

    ``--verbose`` adds the traceback. Typer's own exits and usage errors pass through.
    """
    try:
        yield
    except (typer.Exit, typer.Abort, typer.TyperException):
        raise
    except KeyboardInterrupt:
        err.print("interrupted", markup=False)
        raise typer.Exit(130) from None
    except RecaugError as exc:
        _fail(exc, exc.exit_code)
    except Exception as exc:  # anything else is a runtime failure, reported the same way
        _fail(exc, EXIT_FAILURE)


def _fail(exc: BaseException, code: int) -> None:
    if state.verbose:
        err.print("".join(traceback.format_exception(exc)).rstrip(), markup=False)
    message = str(exc) if isinstance(exc, RecaugError) else f"{type(exc).__name__}: {exc}"
    err.print(f"error: {message}", markup=False)
    raise typer.Exit(code) from None


# -- shared option types ------------------------------------------------------------------
OutOpt = Annotated[Path, typer.Option("--output", "-o", help="Output folder to write.", show_default=False)]
ForceOpt = Annotated[
    bool,
    typer.Option("--force", help="Replace an existing output folder recaug wrote (with a .recaug marker)."),
]
SeedOpt = Annotated[int, typer.Option("--seed", help="Random seed.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print only JSON on stdout.")]
FormatOpt = Annotated[
    str,
    typer.Option(
        "--format", "-f", help="Input format: auto, csv, tsv, parquet, jsonl, s3rec, sasrec, movielens, ..."
    ),
]
SplitOpt = Annotated[
    str, typer.Option("--split", help="Split protocol: leave_last_out (default) or temporal.")
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a config value, e.g. --set train.params.epochs=3 (repeatable)."),
]


# -- small helpers shared by the commands -----------------------------------------------
@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM (``kill``, a scheduler's time limit) into ``KeyboardInterrupt`` inside the block,
    so a run records itself as killed and keeps its per-epoch checkpoints for ``--resume``."""
    import signal

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (e.g. an embedding application): leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def refuse_existing(path: Path, force: bool, inputs: Iterable[Path | None] = ()) -> None:
    """Raise :class:`OutputExistsError` (exit 2) unless output folder ``path`` may be written.

    Refused: ``path`` is or contains one of ``inputs``; it holds anything and ``force`` is off;
    it holds files recaug did not write (no marker), even with ``force``.
    """
    from recaug.atomic import check_output

    check_output(path, force=force, inputs=[p for p in inputs if p is not None])


def parse_params(items: list[str] | None, flag: str = "--param") -> dict[str, Any]:
    """``["k=v", ...]`` -> ``{k: yaml(v)}`` (numbers, booleans, lists parse as such)."""
    out: dict[str, Any] = {}
    for text in items or []:
        key, sep, value = text.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"{flag} {text!r}: expected KEY=VALUE")
        try:
            out[key] = yaml.safe_load(value) if value.strip() else None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{flag} {text!r}: cannot parse the value: {exc}") from None
    return out


def load_any(path: Path, *, format: str = "auto", **read_options: Any) -> Dataset:
    """A saved dataset folder (has ``schema.json``) or any file/folder ``recaug.data.io.read`` understands."""
    if not path.exists():
        raise DataError("no such file or folder", file=path, expected="an existing input path")
    if path.is_dir() and (path / "schema.json").is_file():
        return Dataset.load(path)
    from recaug.data.io import read

    options = {k: v for k, v in read_options.items() if v is not None}
    return read(path, format=format, **options)


def split_list(values: list[str] | None) -> list[str]:
    """Repeated and/or comma-separated option values: ``["5,10", "20"]`` -> ``["5", "10", "20"]``."""
    return [v.strip() for text in values or [] for v in text.split(",") if v.strip()]


def parse_ks(values: list[str] | None, default: tuple[int, ...] = (5, 10, 20)) -> tuple[int, ...]:
    """``--ks 5,10,20`` (or repeated) as positive integers (ConfigError otherwise)."""
    items = split_list(values)
    if not items:
        return default
    try:
        ks = tuple(int(v) for v in items)
    except ValueError:
        raise ConfigError(f"--ks: expected positive integers like 5,10,20, got {','.join(items)!r}") from None
    if min(ks) < 1:
        raise ConfigError(f"--ks: cut-offs must be >= 1, got {ks}")
    return ks
