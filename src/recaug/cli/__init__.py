"""The ``recaug`` command line: one command per stage, plus ``run``, ``report``, ``config``, ``tune``, ``demo``.

Stages: ``data import|describe``, ``train``, ``evaluate``, ``expand``, ``generate``, ``fuse``,
``quality``; product search: ``search build-queries|import|evaluate``. Pipeline: ``run``,
``report``, ``config show|validate|schema``, ``tune``. Plus ``demo`` (the whole flow on the
simulated shop) and ``doctor``.

Global options ``-v/--verbose`` (debug logs, tracebacks) and ``-q/--quiet`` come before the
sub-command. Exit codes: 0 success, 2 usage or configuration error, 3 runtime failure.
"""

from typing import Annotated

import typer

from recaug import __version__
from recaug.cli import _torch_env  # noqa: F401  (before anything imports torch)
from recaug.cli._common import configure
from recaug.cli.augment import expand, fuse, generate, quality
from recaug.cli.data import data_app
from recaug.cli.demo import demo
from recaug.cli.doctor import doctor
from recaug.cli.pipeline import config_app, report, run, tune
from recaug.cli.search import search_app
from recaug.cli.train import evaluate, train

app = typer.Typer(
    name="recaug",
    help="Data augmentation for e-commerce recommendation: preprocess, split, generate, expand, fuse, "
    "train, evaluate, report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"recaug {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    verbose: Annotated[bool, typer.Option("-v", "--verbose", help="Debug logs and full tracebacks.")] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Only warnings, errors and results.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_show_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """recaug: data augmentation toolkit for e-commerce recommendation."""
    configure(verbose=verbose, quiet=quiet and not verbose)


app.add_typer(data_app, name="data")
app.command("train")(train)
app.command("evaluate")(evaluate)
app.command("expand")(expand)
app.command("generate")(generate)
app.command("fuse")(fuse)
app.command("quality")(quality)
app.command("run")(run)
app.command("report")(report)
app.add_typer(config_app, name="config")
app.add_typer(search_app, name="search")
app.command("tune")(tune)
app.command("demo")(demo)
app.command("doctor")(doctor)


def main() -> None:
    """Console-script entry point (``recaug``)."""
    app(prog_name="recaug")


__all__ = ["app", "main"]
