"""What every command shares: global flags, consoles, logging set-up and error reporting."""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import typer
from rich.console import Console

from recaug.errors import RecaugError

#: Exit codes of every command.
EXIT_OK, EXIT_USAGE, EXIT_FAILURE = 0, 2, 3

#: Results go to stdout, logs and errors to stderr (so ``--json`` output stays parseable).
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

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
