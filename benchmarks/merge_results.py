"""Merge extra seeds of a benchmark into its result file: ``merge_results.py MAIN EXTRA [EXTRA ...]``.

Long benchmarks are run one seed at a time (a seed of Sports takes over an hour on the
2-vCPU VM) to a separate file and then merged, so a table can grow to 3 seeds without
rerunning the first ones. A merge is refused when the two files were not measured the same
way (benchmark, ``quick`` or protocol differ) or when they share a (dataset, variant, seed)
row with different numbers, since one of the two would then be silently thrown away. A row
both files have with identical numbers (the same-seed control two runs trained) is kept once
and listed, a free determinism check. Seed-pooled comparisons (the top-level ``pooled`` list of
``expand_accuracy.py``, one entry per dataset, variant and set of seeds) merge the same way. Every
merge is recorded in
``merged_from`` (when and at which commit each part was run, and which rows it brought).
MAIN is replaced atomically; the EXTRA files are left as they are.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

ROW_KEY = ("dataset", "variant", "seed")
POOLED_KEY = ("dataset", "variant", "seeds")
SAME = ("benchmark", "quick", "protocol")


class MergeError(ValueError):
    """The files cannot be merged without losing or mixing results."""


def _key(row: dict[str, Any], path: Path) -> tuple:
    missing = [k for k in ROW_KEY if k not in row]
    if missing:
        raise MergeError(f"{path}: a result row has no {', '.join(missing)} (expected keys {ROW_KEY})")
    return tuple(row[k] for k in ROW_KEY)


def pooled_key(entry: dict[str, Any]) -> tuple:
    """What identifies a seed-pooled comparison: dataset, variant and the seeds pooled."""
    return tuple(tuple(entry[k]) if k == "seeds" else entry[k] for k in POOLED_KEY)


def _merge_pooled(main: list[dict[str, Any]], extra: list[dict[str, Any]], main_path: Path,
                  extra_path: Path) -> list[dict[str, Any]]:
    """``main``'s pooled entries plus ``extra``'s new ones; the same entry with other numbers is refused."""
    have = {pooled_key(e): e for e in main}
    for entry in extra:
        old = have.setdefault(pooled_key(entry), entry)
        if old != entry:
            raise MergeError(f"{extra_path}: pooled comparison {pooled_key(entry)} is already in {main_path} "
                             "with other numbers; remove one of them first")
    return list(have.values())


def _numbers(row: dict[str, Any]) -> tuple:
    return (row.get("metrics"), row.get("segments"))


def _origin(doc: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "created": doc.get("created"),
        "git_commit": doc.get("git_commit"),
        "rows": sorted({f"{r['dataset']} {r['variant']} seed {r['seed']}" for r in rows}),
    }


def merge(main: dict[str, Any], extra: dict[str, Any], *, main_path: Path, extra_path: Path) -> dict[str, Any]:
    """``main`` with the rows of ``extra`` appended; raises `MergeError` on a mismatch or overlap."""
    for field in SAME:
        if main.get(field) != extra.get(field):
            raise MergeError(
                f"{extra_path}: '{field}' is {extra.get(field)!r}, but {main_path} has {main.get(field)!r}; "
                "results measured differently cannot share a table"
            )
    have = {_key(r, main_path): r for r in main["results"]}
    new, same = [], []
    for r in extra["results"]:
        old = have.get(_key(r, extra_path))
        if old is None:
            new.append(r)
        elif _numbers(old) == _numbers(r):
            same.append(_key(r, extra_path))  # e.g. a same-seed control both runs trained
        else:
            raise MergeError(
                f"{extra_path}: row {_key(r, extra_path)} is already in {main_path} with other numbers; "
                "remove one of them first"
            )
    merged = dict(main)
    merged["results"] = list(main["results"]) + new
    if main.get("pooled") or extra.get("pooled"):
        merged["pooled"] = _merge_pooled(main.get("pooled", []), extra.get("pooled", []), main_path, extra_path)
    history = list(main.get("merged_from") or [_origin(main, main["results"])])
    history += extra.get("merged_from") or [_origin(extra, new)]
    if same:
        history[-1] = {**history[-1], "identical_rows_kept_once": [" ".join(map(str, k)) for k in same]}
    merged["merged_from"] = history
    return merged


def main() -> None:
    """Command-line entry: merge every EXTRA into MAIN."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("main", type=Path)
    p.add_argument("extra", type=Path, nargs="+")
    args = p.parse_args()
    doc = json.loads(args.main.read_text())
    try:
        for path in args.extra:
            doc = merge(doc, json.loads(path.read_text()), main_path=args.main, extra_path=path)
    except MergeError as err:
        raise SystemExit(f"not merged: {err}") from None
    tmp = args.main.with_suffix(args.main.suffix + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2, allow_nan=False))
    os.replace(tmp, args.main)
    print(f"{args.main}: {len(doc['results'])} rows")


if __name__ == "__main__":
    main()
