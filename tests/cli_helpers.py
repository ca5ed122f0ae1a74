"""Shared helpers of the command-line tests (``tests/test_cli*.py``)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from recaug.cli import app

runner = CliRunner()


def invoke(*args: str | Path):
    """Run ``recaug ARGS...`` in-process; every argument is passed as a string."""
    return runner.invoke(app, [str(a) for a in args])
