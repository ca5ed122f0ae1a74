"""``recaug expand``, ``recaug generate``, ``recaug fuse`` and ``recaug quality``.

Every command that fits or augments splits its input first and touches ``split.train`` only;
the split it used is written next to the output (``OUT/split/``) so later commands
(``fuse``, ``quality``) can take that folder as REAL and the leakage guard can check held-out pairs.
"""

from __future__ import annotations

import copy
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import polars as pl
import typer
import yaml
from rich.table import Table

from recaug import columns as C
from recaug.cli._common import (
    ForceOpt,
    FormatOpt,
    JsonOpt,
    OutOpt,
    SeedOpt,
    SplitOpt,
    out,
    parse_params,
    print_json,
    refuse_existing,
    reporting_errors,
    say,
    state,
)
from recaug.errors import ConfigError
from recaug.fuse.fuser import DEFAULT_HELD_OUT_HITS

if TYPE_CHECKING:
    from recaug.pipeline.config import ExpandConfig

log = logging.getLogger("recaug.cli")

DataArg = Annotated[
    Path,
    typer.Argument(
        help="Dataset folder (recaug data import) or a raw file with --format.", show_default=False
    ),
]
RealArg = Annotated[
    Path,
    typer.Argument(
        help="Real interactions: dataset folder, split folder (its train part) or Parquet file.",
        show_default=False,
    ),
]
SynthArg = Annotated[
    Path, typer.Argument(help="Synthetic interactions: Parquet file (or dataset folder).", show_default=False)
]


# -- expand -------------------------------------------------------------------------------------
def parse_op(text: str) -> dict[str, Any]:
    """``"crop"`` or ``"crop:eta=0.6,min_len=2"`` -> ``{"op": "crop", "eta": 0.6, "min_len": 2}``."""
    name, _, rest = text.partition(":")
    if not name.strip():
        raise ConfigError(f"--op {text!r}: expected NAME or NAME:KEY=VALUE,...")
    params = parse_params([p for p in rest.split(",") if p.strip()], flag=f"--op {name}")
    return {"op": name.strip(), **params}


def expand_config(ops: list[str] | None, policy: Path | None, n_views: int | None) -> ExpandConfig:
    """The pipeline's ``expand`` section, validated, from ``--op`` flags or a policy YAML file."""
    if bool(ops) == (policy is not None):
        raise ConfigError("give either --op (repeatable) or --policy FILE.yaml")
    section: dict[str, Any] = {}
    if policy is not None:
        if not policy.is_file():
            raise ConfigError(f"--policy: no such file: {policy}")
        try:
            doc = yaml.safe_load(policy.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ConfigError(f"{policy}: not valid YAML: {exc}") from None
        if not isinstance(doc, dict):
            raise ConfigError(
                f"{policy}: expected a mapping ({{op: ...}} or an expand section {{policy: ...}})"
            )
        section = dict(doc) if "policy" in doc else {"policy": doc}
    else:
        parsed = [parse_op(t) for t in ops or []]
        section["policy"] = parsed[0] if len(parsed) == 1 else {"op": "one_of", "ops": parsed}
    if n_views is not None:
        section["n_views"] = n_views
    from pydantic import ValidationError

    from recaug.expand import from_config
    from recaug.pipeline.config import ExpandConfig, format_errors

    try:
        cfg = ExpandConfig.model_validate(section)
    except ValidationError as exc:
        raise ConfigError(format_errors(exc, prefix=("expand",))) from None
    from_config(copy.deepcopy(cfg.policy))  # unknown ops / keys -> ConfigError now, before any work
    return cfg


def expand(
    data: DataArg,
    output: OutOpt,
    op: Annotated[
        list[str] | None,
        typer.Option(
            "--op", help="Augmentation op, e.g. crop or crop:eta=0.6 (repeat: one of them per view)."
        ),
    ] = None,
    policy: Annotated[
        Path | None, typer.Option("--policy", help="YAML file: an augmenter config or an expand section.")
    ] = None,
    n_views: Annotated[
        int | None, typer.Option("--n-views", help="Augmented views per training sequence.")
    ] = None,
    split: SplitOpt = "leave_last_out",
    seed: SeedOpt = 0,
    force: ForceOpt = False,
    format: FormatOpt = "auto",
    as_json: JsonOpt = False,
) -> None:
    """Split DATA and augment the training part offline; write the views with provenance.

    Writes OUT/sequences.parquet (one row per item of each augmented view: sequence, user_id
    of the source user, item_id, source = op path, timestamp = position), OUT/provenance.json,
    OUT/split/ and OUT/summary.json. MASK tokens are dropped (an offline mask acts as item dropout),
    then views with fewer than ``min_length`` items (2 unless a policy file sets it); the summary
    counts them (``views``, ``views_dropped_short``).
    """
    with reporting_errors():
        from recaug.cli._flow import load_data, make_split, split_settings, write_split
        from recaug.pipeline.stages import run_expand

        config = expand_config(op, policy, n_views)
        settings = split_settings(split)
        refuse_existing(output, force, inputs=(data, policy))
        t0 = time.perf_counter()
        dataset = load_data(data, format)
        parts = make_split(dataset.interactions, settings)
        from recaug.atomic import atomic_dir, write_json

        with atomic_dir(output, force=force) as folder:
            write_split(parts, folder / "split")
            info = run_expand(config, folder / "split", seed, folder)
            doc = {
                "command": "expand",
                "data": str(data),
                "split": settings,
                "expand": config.model_dump(mode="json"),
                "seed": seed,
                **info,
                "seconds": round(time.perf_counter() - t0, 4),
            }
            write_json(folder / "summary.json", doc, finite=True)
        if as_json:
            print_json(doc)
            return
        say(
            f"wrote {output}: {info['sequences']:,} augmented sequences ({info['rows_out']:,} rows) "
            f"from {info['rows_in']:,} training rows in {doc['seconds']:.2f} s; "
            f"{info['views_dropped_short']:,} of {info['views']:,} views had fewer than {config.min_length} items "
            "left and were dropped (min_length)"
        )


# -- generate -----------------------------------------------------------------------------------
def _build_synthesizer(method: str, params: dict[str, Any], seed: int) -> Any:
    """``recaug.generate.from_config`` with ``--seed`` unless ``--param seed=...`` is given."""
    from recaug.generate import from_config

    return from_config({"method": method, "seed": seed, **params})  # names unknown methods/settings


def generate(
    data: DataArg,
    output: OutOpt,
    method: Annotated[str, typer.Option("--method", "-m", help="Synthesizer: vae, gan or sequence.")],
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="Synthesizer setting KEY=VALUE (repeatable).")
    ] = None,
    n_users: Annotated[
        int | None,
        typer.Option("--n-users", help="Synthetic users to sample (default: as many as train has)."),
    ] = None,
    complete: Annotated[
        int | None,
        typer.Option(
            "--complete",
            help="Instead of sampling new users, add K plausible items before the history of every "
            "training user with at most --max-history interactions.",
        ),
    ] = None,
    max_history: Annotated[
        int, typer.Option("--max-history", help="--complete: users with at most this many training rows.")
    ] = 5,
    split: SplitOpt = "leave_last_out",
    seed: SeedOpt = 0,
    force: ForceOpt = False,
    format: FormatOpt = "auto",
    as_json: JsonOpt = False,
) -> None:
    """Split DATA, fit a synthesizer on the training part only and sample synthetic users.

    With --complete K it instead completes the short training histories (K items each, the most
    plausible ones unless the synthesizer's complete_temperature says otherwise). Writes
    OUT/synthetic.parquet (source = the synthesizer), OUT/split/ and OUT/summary.json.
    """
    with reporting_errors():
        from recaug.cli._flow import load_data, make_split, split_settings, write_split

        if n_users is not None and n_users < 0:
            raise ConfigError(f"--n-users must be >= 0, got {n_users}")
        if complete is not None and (n_users is not None or complete < 1 or max_history < 0):
            raise ConfigError(
                "--complete K needs K >= 1 and --max-history >= 0, and cannot be combined with --n-users"
            )
        settings = split_settings(split)
        params = parse_params(param)
        synth = _build_synthesizer(method, params, seed)
        refuse_existing(output, force, inputs=(data,))
        t0 = time.perf_counter()
        dataset = load_data(data, format)
        parts = make_split(dataset.interactions, settings)
        synth.fit(parts.train, item_space=dataset.vocab.item_space, items=dataset.items)
        if complete is not None:
            from recaug.generate import short_histories

            synthetic = synth.complete(short_histories(parts.train, max_history), complete, seed=seed)
        else:
            sample_kw: dict[str, Any] = {"seed": seed}
            if n_users is not None:
                sample_kw["n_users"] = n_users
            synthetic = synth.sample(**sample_kw)
        frame = synthetic.frame
        if len(frame) and (frame.get_column(C.SOURCE) == C.REAL).any():
            frame = frame.with_columns(pl.lit(method).alias(C.SOURCE))
        from recaug.atomic import atomic_dir, write_json

        with atomic_dir(output, force=force) as folder:
            write_split(parts, folder / "split")
            frame.write_parquet(folder / "synthetic.parquet")
            doc = {
                "command": "generate",
                "data": str(data),
                "method": method,
                "params": params,
                "mode": "sample" if complete is None else "complete",
                **({} if complete is None else {"complete_k": complete, "max_history": max_history}),
                "seed": seed,
                "split": settings,
                "rows_in": len(parts.train),
                "rows_out": len(frame),
                "synthetic_users": frame.get_column(C.USER).n_unique() if len(frame) else 0,
                "seconds": round(time.perf_counter() - t0, 4),
            }
            write_json(folder / "summary.json", doc, finite=True)
        if as_json:
            print_json(doc)
            return
        what = "users" if complete is None else f"short users (<= {max_history} training rows, {complete} items each)"
        say(
            f"wrote {output}: {doc['rows_out']:,} synthetic rows for {doc['synthetic_users']:,} {what} "
            f"({method}, fitted on {doc['rows_in']:,} training rows) in {doc['seconds']:.2f} s"
        )


# -- fuse -----------------------------------------------------------------------------------------
def fuse(
    real: RealArg,
    synth: SynthArg,
    output: OutOpt,
    ratio: Annotated[
        float | None, typer.Option("--ratio", help="At most R synthetic rows per real row.")
    ] = None,
    only_users_with_at_most: Annotated[
        int | None,
        typer.Option("--only-users-with-at-most", help="Only extend users with at most N training rows."),
    ] = None,
    weight: Annotated[
        float | None, typer.Option("--weight", help="Weight of synthetic rows (real rows 1.0).")
    ] = None,
    max_rows_per_user: Annotated[
        int | None, typer.Option("--max-rows-per-user", help="Cap of synthetic rows per user.")
    ] = None,
    new_users: Annotated[
        bool, typer.Option("--new-users/--no-new-users", help="Keep rows of new synthetic users.")
    ] = True,
    dedup: Annotated[
        bool, typer.Option("--dedup", help="Drop synthetic (user, item) pairs that repeat.")
    ] = False,
    quality: Annotated[
        bool, typer.Option("--quality", help="Also write a quality report (quality/).")
    ] = False,
    held_out_hits: Annotated[
        str,
        typer.Option(
            "--held-out-hits",
            help="Synthetic rows equal to a user's validation/test item: 'keep' fuses them (decides without "
            "held-out data); the diagnostics 'drop' (remove and count) and 'error' (fail) read held-out labels.",
        ),
    ] = DEFAULT_HELD_OUT_HITS,
    seed: SeedOpt = 0,
    force: ForceOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Mix synthetic rows into the real training rows (quotas, weights, provenance, leakage check).

    Writes OUT/train.parquet (source tells real and synthetic rows apart), OUT/fuse.json and
    OUT/fuse.md. Synthetic item codes outside REAL's catalogue are refused. By default
    (--held-out-hits keep) no held-out data decides anything: a synthesizer fitted on train alone
    that completes users with their most plausible items does guess some held-out items (843 of
    69,472 rows on Beauty) and those rows stay; with a split folder as REAL they are counted
    afterwards as a diagnostic (held_out_hits_kept). 'drop' and 'error' use held-out labels.
    """
    with reporting_errors():
        from recaug.cli._flow import catalogue_size, first_new_user, read_interactions, read_synthetic
        from recaug.fuse import Fuser, check_item_codes, held_out_hits_kept

        fuser = Fuser(
            ratio=ratio, only_users_with_at_most=only_users_with_at_most, allow_new_users=new_users,
            max_rows_per_user=max_rows_per_user, weight=weight, deduplicate=dedup, seed=seed,
            held_out_hits=held_out_hits,
        )  # fmt: skip
        refuse_existing(output, force, inputs=(real, synth))
        t0 = time.perf_counter()
        train, dataset, parts = read_interactions(real)
        first_user = first_new_user(train, parts)
        synthetic = read_synthetic(synth, first_user)
        check_item_codes(synthetic, catalogue_size(train, dataset, parts), file=synth)
        fused, report = fuser.fuse(train, synthetic, split=parts)
        if parts is not None:  # after the decision: a count, it changes nothing
            report.diagnostics["held_out_hits_kept"] = held_out_hits_kept(fused, parts)
        from recaug.atomic import atomic_dir, write_json

        with atomic_dir(output, force=force) as folder:
            fused.frame.write_parquet(folder / "train.parquet")
            write_json(folder / "fuse.json", report.to_dict(), finite=True)
            (folder / "fuse.md").write_text(report.to_markdown(), encoding="utf-8")
            if quality and report.synthetic_out:
                from recaug.quality import QualityReport

                kept = fused.filter(pl.col(C.SOURCE) != C.REAL)
                items = dataset.items if dataset is not None else None
                QualityReport.compute(train, kept, items=items, seed=seed, discriminator=False).save(
                    folder / "quality"
                )
            doc = {
                "command": "fuse",
                "real": str(real),
                "synthetic": str(synth),
                "leakage_checked": parts is not None and held_out_hits != "keep",
                **report.to_dict(),
                "synthetic_share": report.synthetic_out / len(train) if len(train) else 0.0,
                "seconds": round(time.perf_counter() - t0, 4),
            }
            write_json(folder / "summary.json", doc, finite=True)
        if as_json:
            print_json(doc)
            return
        say(
            f"wrote {output}: {len(train):,} real + {report.synthetic_out:,} of {report.synthetic_in:,} "
            f"synthetic rows kept ({report.users_extended:,} users extended, {report.users_new:,} new) "
            f"in {doc['seconds']:.2f} s"
        )


# -- quality ------------------------------------------------------------------------------------
def quality(
    real: RealArg,
    synth: SynthArg,
    output: OutOpt,
    discriminator: Annotated[
        bool,
        typer.Option(
            "--discriminator/--no-discriminator", help="Train a real-vs-synthetic classifier (torch)."
        ),
    ] = True,
    seed: SeedOpt = 0,
    force: ForceOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """How close SYNTH is to REAL: fidelity scores in [0, 1] (1 = indistinguishable) and privacy.

    Writes OUT/quality.json, OUT/quality.md and PNG plots.
    """
    with reporting_errors():
        from recaug.cli._flow import first_new_user, read_interactions, read_synthetic
        from recaug.quality import QualityReport

        refuse_existing(output, force, inputs=(real, synth))
        train, dataset, parts = read_interactions(real)
        synthetic = read_synthetic(synth, first_new_user(train, parts), only_synthetic=True)
        items = dataset.items if dataset is not None else None
        report = QualityReport.compute(train, synthetic, items=items, seed=seed, discriminator=discriminator)
        report.save(output, force=force)
        if as_json:
            print_json(report.to_dict())
            return
        if not state.quiet:
            table = Table(title="synthetic data quality (1 = indistinguishable)", title_justify="left")
            table.add_column("property")
            table.add_column("score", justify="right")
            for name, value in report.scores.items():
                table.add_row(name, f"{value:.3f}")
            table.add_row("overall", f"{report.overall:.3f}")
            table.add_row("privacy (1 = no near copies)", f"{report.privacy:.3f}")
            out.print(table)
        say(f"wrote {output}")
