"""The report of a run directory: ``report.html`` (self-contained), ``report.md`` and ``report.json``.

>>> write_report("runs/demo")   # -> Path("runs/demo/report.html")

All three carry the same numbers (collected by :func:`recaug.report.collect.collect`); the HTML
adds matplotlib figures embedded as base64 PNGs and needs no network.
"""

from __future__ import annotations

import json
from pathlib import Path

from recaug.atomic import write_text
from recaug.report.collect import collect

#: Bumped when the report's content changes, so cached reports are regenerated.
REPORT_VERSION = 4

__all__ = ["REPORT_VERSION", "collect", "inputs_fingerprint", "write_report"]


def inputs_fingerprint(run_dir: str | Path) -> str:
    """Hash of what the report reads that can change: ``results.json``, the config and the tuning study."""
    import hashlib

    run_dir = Path(run_dir)
    h = hashlib.sha256()
    for name in ("results.json", "config.resolved.yaml", "protocol.json", "tune/study.json"):
        f = run_dir / name
        h.update(name.encode())
        h.update(f.read_bytes() if f.is_file() else b"-")
    return h.hexdigest()


def write_report(run_dir: str | Path) -> Path:
    """Write ``report.html``, ``report.md`` and ``report.json`` into ``run_dir``; returns the HTML path."""
    from recaug.report.figures import all_figures
    from recaug.report.render import render_html, render_markdown

    run_dir = Path(run_dir)
    doc = collect(run_dir)
    doc["report_version"] = REPORT_VERSION
    doc["inputs_fingerprint"] = inputs_fingerprint(run_dir)
    figs = all_figures(doc)
    write_text(run_dir / "report.json", json.dumps(doc, indent=2, allow_nan=False))
    write_text(run_dir / "report.md", render_markdown(doc))
    html_path = run_dir / "report.html"
    write_text(html_path, render_html(doc, figs))
    return html_path
