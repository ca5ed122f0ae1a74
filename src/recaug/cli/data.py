"""``recaug data import`` and ``recaug data describe``."""

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from recaug.cli._common import (
    ForceOpt,
    FormatOpt,
    load_any,
    out,
    print_json,
    refuse_existing,
    reporting_errors,
    say,
    state,
)

data_app = typer.Typer(
    help="Import and inspect interaction data.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@data_app.command("import")
def import_(
    src: Annotated[Path, typer.Argument(help="Input file or folder.", show_default=False)],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Dataset folder to write.", show_default=False)
    ],
    format: FormatOpt = "auto",
    user_col: Annotated[str | None, typer.Option(help="Column holding user ids.")] = None,
    item_col: Annotated[str | None, typer.Option(help="Column holding item ids.")] = None,
    time_col: Annotated[str | None, typer.Option(help="Column holding timestamps.")] = None,
    event_col: Annotated[
        str | None, typer.Option(help="Column holding event types (view, cart, buy ...).")
    ] = None,
    category_col: Annotated[str | None, typer.Option(help="Column holding item categories.")] = None,
    rating_col: Annotated[str | None, typer.Option(help="Column holding ratings.")] = None,
    query_col: Annotated[str | None, typer.Option(help="Column holding search queries.")] = None,
    sep: Annotated[str | None, typer.Option(help="Field delimiter (default: guessed).")] = None,
    no_header: Annotated[
        bool,
        typer.Option(
            "--no-header",
            help="The CSV/TSV file has no header row: its columns are column_1, column_2, ...; "
            "map them with --user-col, --item-col, --time-col ...",
        ),
    ] = False,
    item_side: Annotated[
        Path | None, typer.Option(help="Item table (category, brand, ...) keyed by item id.")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Dataset name (default: the file name).")] = None,
    force: ForceOpt = False,
) -> None:
    """Read SRC into the recaug dataset folder format (Parquet tables + schema.json + summary.md)."""
    with reporting_errors():
        refuse_existing(output, force, inputs=(src, item_side))
        t0 = time.perf_counter()
        dataset = load_any(
            src, format=format, user_col=user_col, item_col=item_col, time_col=time_col, event_col=event_col,
            category_col=category_col, rating_col=rating_col, query_col=query_col, sep=sep,
            no_header=no_header, item_side=item_side, name=name,
        )  # fmt: skip
        dataset.save(output, force=force)
        say(
            f"wrote {output}: {dataset.vocab.n_users:,} users, {dataset.vocab.n_items:,} items, "
            f"{len(dataset.interactions):,} interactions in {time.perf_counter() - t0:.2f} s"
        )


@data_app.command("describe")
def describe_cmd(
    data: Annotated[
        Path, typer.Argument(help="Saved dataset folder, or a raw file/folder.", show_default=False)
    ],
    format: FormatOpt = "auto",
    as_json: Annotated[bool, typer.Option("--json", help="Print only JSON on stdout.")] = False,
) -> None:
    """Users, items, interactions, length quantiles, density, time span, categories, event mix."""
    from recaug.data.describe import describe

    with reporting_errors():
        stats = describe(load_any(data, format=format))
        if as_json:
            print_json(stats)
        elif not state.quiet:
            render_stats(stats)


def render_stats(stats: dict[str, Any]) -> None:
    """The statistics of :func:`recaug.data.describe.describe` as rich tables on stdout."""
    main = Table(title=f"dataset {stats['name']}", show_header=False, title_justify="left")
    main.add_column("statistic")
    main.add_column("value", justify="right")
    for key in ("users", "items", "interactions"):
        main.add_row(key, f"{stats[key]:,}")
    main.add_row("density", f"{stats['density']:.6f}")
    lengths = stats["sequence_length"]
    main.add_row("length mean", f"{lengths['mean']:.2f}")
    quantiles = [f"{k}={v:g}" for k, v in lengths.items() if k != "mean"]
    main.add_row("length quantiles", " ".join(quantiles))
    main.add_row("users with <= 3", f"{stats['users_with_at_most_3']:,}")
    if "time" in stats and stats["time"].get("kind") == "position":
        main.add_row("time", "none in this format (timestamp = position in the sequence)")
    elif "time" in stats:
        span = stats["time"]["span"]
        main.add_row("time span", f"{span:,}" + (f" s ({span / 86400:.1f} days)" if span > 10**6 else ""))
    if "categories" in stats:
        main.add_row("categories", f"{stats['categories']['n']:,}")
    out.print(main)
    for section, title in (("events", "event"), ("sources", "source")):
        if section in stats:
            _counts_table(title, stats[section], stats["interactions"])
    if "categories" in stats:
        _counts_table("category", stats["categories"]["interactions"], stats["interactions"], limit=15)


def _counts_table(title: str, counts: dict[str, int], total: int, limit: int | None = None) -> None:
    table = Table(title_justify="left")
    table.add_column(title)
    table.add_column("rows", justify="right")
    table.add_column("share", justify="right")
    entries = list(counts.items())
    for key, value in entries[:limit]:
        table.add_row(key, f"{value:,}", f"{value / total:.1%}" if total else "-")
    if limit is not None and len(entries) > limit:
        table.add_row(f"... {len(entries) - limit} more", "", "")
    out.print(table)
