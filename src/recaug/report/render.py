"""Render the collected report data as a self-contained HTML page (jinja2) and as Markdown.

Both show the same numbers; the HTML adds the figures as embedded base64 PNGs and loads nothing
from the network.
"""

from __future__ import annotations

import json
from typing import Any

import jinja2


def fmt(x: Any, digits: int = 4) -> str:
    """A number for tables ("-" for missing)."""
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return str(x)


def pct(x: Any) -> str:
    """A relative change as a signed percentage."""
    return "-" if x is None else f"{100 * x:+.1f}%"


def pval(x: Any) -> str:
    """A p-value ("<0.001" for tiny ones)."""
    if x is None:
        return "-"
    return "<0.001" if x < 0.001 else f"{x:.3f}"


def secs(x: Any) -> str:
    """Seconds, short."""
    return "-" if x is None else f"{x:.1f} s" if x >= 1 else f"{x * 1000:.0f} ms"


def headline_table(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows (segment, variant) with one cell per headline metric, ready for both renderers."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for r in doc["headline"]["rows"]:
        key = (r["segment"], r["variant"])
        row = rows.setdefault(
            key,
            {
                "segment": r["segment"],
                "variant": r["variant"],
                "n_users": r["n_users"],
                "is_control": r["is_control"],
                "cells": {},
            },
        )
        row["cells"][r["metric"]] = r
    return list(rows.values())


#: Appended to a variant's name wherever the report shows a ``held_out_hits: drop`` arm.
DIAGNOSTIC_LABEL = " (diagnostic: held-out labels)"


def held_out_notes(doc: dict[str, Any]) -> list[str]:
    """One warning per variant whose training data was decided with held-out labels (``drop``)."""
    notes = []
    for variant, d in (doc.get("held_out_diagnostics") or {}).items():
        text = (
            f"{variant} fuses with held_out_hits: drop: it removed {fmt(d['rows_dropped'], 1)} "
            "synthetic rows "
            "(mean over seeds) because they equal a validation/test item, a decision about training data "
            "made with held-out labels, so its numbers are a diagnostic, not a result."
        )
        if d.get("twin"):
            text += f" {d['twin']} is the same arm deciding without held-out data"
            if d.get("twin_hits_kept") is not None:
                text += f" (it trained on {fmt(d['twin_hits_kept'], 1)} such rows)"
            text += "."
        notes.append(text)
    return notes


def variant_label(doc: dict[str, Any], variant: str) -> str:
    """The variant's name, marked when it is a held-out-label diagnostic."""
    return variant + (DIAGNOSTIC_LABEL if variant in (doc.get("held_out_diagnostics") or {}) else "")


def lift_class(cell: dict[str, Any] | None) -> str:
    """CSS class of a lift: ``up``/``down`` only when the lift is significant, else none."""
    if not cell or not cell.get("significant") or not cell.get("lift"):
        return ""
    return "up" if cell["lift"] > 0 else "down"


def has_seed_tests(doc: dict[str, Any]) -> bool:
    """Whether the headline carries seed-level tests (two or more seeds)."""
    return any((r.get("n_seeds") or 0) >= 2 for r in doc["headline"]["rows"])


def rising_notes(doc: dict[str, Any]) -> list[str]:
    """One warning per model whose validation metric was still rising at its epoch cap."""
    notes = []
    for t in doc.get("training") or []:
        if t.get("still_rising"):
            notes.append(
                f"{t['variant']} (seed {t['seed']}, {t['model']}): training stopped at its epoch cap "
                f"({t['epochs_run']} of {t['epoch_cap']} epochs) with the best validation at epoch "
                f"{t['best_epoch']}, among the last validations: the validation metric was still rising, "
                "so more epochs may change this result."
            )
    return notes


def headline_metrics(doc: dict[str, Any]) -> list[str]:
    """Metric columns of the headline table."""
    return list(dict.fromkeys(r["metric"] for r in doc["headline"]["rows"]))


# -- product search ------------------------------------------------------------------------------
def search_intro(doc: dict[str, Any]) -> str:
    """What the search tables show: the log, the split, the arms and the tests (one paragraph)."""
    s = doc["search"]
    log = s.get("log") or {}
    proto = log.get("protocol") or {}
    seeds = list(s.get("seeds") or [])
    parts = [
        f"Search log {log.get('name', '?')} (source {log.get('source', '?')}): {log.get('rows_in', '?')} searches, "
        f"{log.get('users', '?')} users, {log.get('queries', '?')} distinct queries, {log.get('items', '?')} items; "
        f"split {proto.get('split', '?')}: {log.get('train', '?')} training, {log.get('valid', '?')} validation and "
        f"{log.get('test', '?')} test events.",
        "Each test event's item is ranked among all items (full ranking, pessimistic ties); "
        + (f"an event's metric is averaged over the seeds {', '.join(map(str, seeds))}." if len(seeds) > 1
           else f"seed {', '.join(map(str, seeds))}."),
    ]
    if s.get("augmented"):
        added = [c for c in s.get("costs", []) if c["arm"].endswith("/" + s["augmented"])]
        share = f" (+{100 * added[0]['augmented_share']:.1f}% rows over the real training rows)" if added else ""
        policy = json.dumps(s.get("policy"), sort_keys=True) if s.get("policy") is not None else "?"
        parts.append(
            f"Arm {s['augmented']}: the same model and seed trained on the training log plus augmented rows "
            f"{policy}{share}, the augmenters fitted on the training part only. Lifts are relative to the same "
            "model's control on the same events (paired t-test and Wilcoxon signed-rank per event"
            + ("; p (seeds): t-test of the per-seed relative lifts" if search_seed_tests(doc) else "")
            + f"); a lift is coloured only when significant at {doc.get('alpha', 0.05):g}"
            + (" by both the per-event Wilcoxon and the seed-level test." if search_seed_tests(doc) else ".")
        )
    if s.get("reference"):
        parts.append(f"{s['reference']} is the reference (it reads only the item text, never the log).")
    return " ".join(parts)


def search_seed_tests(doc: dict[str, Any]) -> bool:
    """Whether the search tables carry seed-level tests (two or more seeds)."""
    return len((doc.get("search") or {}).get("seeds") or []) >= 2


def search_tables(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Per model: its rows with a display ``label`` and ``first`` (first row of a segment)."""
    s = doc["search"]
    out = []
    for t in s["tables"]:
        rows, last = [], None
        for r in t["rows"]:
            label = f"{r['model']} (reference)" if r["is_reference"] else r["arm"]
            rows.append({**r, "label": label, "first": r["segment"] != last})
            last = r["segment"]
        out.append({**t, "rows": rows})
    return out


_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{{ doc.title|e }}</title>
<style>
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.4}
h1{font-size:1.6em;margin-bottom:.2em} h2{font-size:1.25em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.8em}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em} th,td{border:1px solid #ddd;padding:.3em .6em;text-align:right}
th{background:#f4f4f4} td.l,th.l{text-align:left} tr.control td{background:#fafafa;color:#555}
tr.seg td{border-top:2px solid #999} .up{color:#1a7f37} .down{color:#b42318} .muted{color:#777;font-size:.85em}
.box{background:#f6f8fa;border:1px solid #d0d7de;border-radius:6px;padding:.6em 1em;font-size:.9em}
.box dt{font-weight:600;float:left;clear:left;width:11em} .box dd{margin-left:11.5em}
img{max-width:100%;height:auto;border:1px solid #eee}
</style></head><body>
<h1>{{ doc.title|e }}</h1>
<p class="muted">target: <b>{{ doc.target }}</b> &middot; seeds: {{ doc.seeds|join(', ') }} &middot; device: {{ doc.device }}
&middot; recaug {{ doc.versions.get('recaug', '?') }} &middot; {{ doc.run_dir|e }}</p>

{% if table %}<h2>Headline: augmented variants vs control</h2>
<p class="muted">Per-user {{ doc.target }} metrics averaged over seeds; mean with {{ (doc.confidence*100)|round|int }}% bootstrap CI;
lift and p-values from paired tests on the same users (t-test / Wilcoxon signed-rank){% if seed_tests %};
p (seeds): one-sample t-test of the per-seed relative lifts against 0{% endif %}. A lift is coloured only when it is
significant at {{ doc.alpha }}{% if seed_tests %} by both the per-user Wilcoxon test and the seed-level test{% else %} (per-user Wilcoxon){% endif %}.</p>
{% for note in held_out_notes %}<p class="box"><b>Warning:</b> {{ note|e }}</p>{% endfor %}
{% for note in rising_notes %}<p class="box"><b>Still rising:</b> {{ note|e }}</p>{% endfor %}
<table><tr><th class="l">segment</th><th class="l">variant</th><th>users</th>
{% for m in metrics %}<th>{{ m }} [CI]</th>{% endfor %}<th>lift ({{ metrics[0] if metrics else '' }})</th><th>p (t)</th><th>p (Wilcoxon)</th>{% if seed_tests %}<th>p (seeds)</th>{% endif %}</tr>
{% for row in table %}
<tr class="{{ 'control' if row.is_control else '' }}{{ ' seg' if row.first else '' }}">
<td class="l">{{ row.segment|e if row.first else '' }}</td><td class="l">{{ variant_label(doc, row.variant)|e }}{{ ' (control)' if row.is_control and row.variant != 'control' else '' }}</td><td>{{ row.n_users }}</td>
{% for m in metrics %}{% set c = row.cells.get(m) %}<td>{% if c %}{{ fmt(c.mean) }} <span class="muted">[{{ fmt(c.ci_low) }}, {{ fmt(c.ci_high) }}]</span>{% else %}-{% endif %}</td>{% endfor %}
{% set p = row.cells.get(metrics[0]) if metrics else None %}
<td class="{{ lift_class(p) if p and not row.is_control else '' }}">{{ pct(p.get('lift')) if p and not row.is_control else '' }}</td>
<td>{{ pval(p.get('t_pvalue')) if p and not row.is_control else '' }}</td><td>{{ pval(p.get('wilcoxon_pvalue')) if p and not row.is_control else '' }}</td>{% if seed_tests %}<td>{{ pval(p.get('seed_pvalue')) if p and not row.is_control else '' }}</td>{% endif %}</tr>
{% endfor %}</table>
{% if figs.lift %}<img alt="lift per segment" src="data:image/png;base64,{{ figs.lift }}">{% endif %}{% endif %}

{% if doc.search %}{% set s = doc.search %}{% set pm = s.primary_metric %}
<h2>Product search</h2>
<p class="muted">{{ search_intro|e }}</p>
{% for t in search_tables %}
<h3>{{ t.model|e }}{% if t.name != t.model %} <span class="muted">({{ t.name|e }})</span>{% endif %}</h3>
<table><tr><th class="l">segment</th><th class="l">arm</th><th>events</th>
{% for m in s.metrics %}<th>{{ m }}</th>{% endfor %}<th>p (t, {{ pm }})</th><th>p (Wilcoxon, {{ pm }})</th>{% if search_seed_tests %}<th>p (seeds, {{ pm }})</th>{% endif %}</tr>
{% for r in t.rows %}<tr class="{{ 'control' if r.is_reference else '' }}{{ ' seg' if r.first else '' }}">
<td class="l">{{ r.segment|e if r.first else '' }}</td><td class="l">{{ r.label|e }}</td><td>{{ r.n_events }}</td>
{% for m in s.metrics %}{% set c = r.cells.get(m) %}<td>{% if c %}{{ fmt(c.mean) }}{% if not r.is_control %} <span class="{{ lift_class(c) }}">({{ pct(c.get('lift')) }})</span>{% endif %}{% else %}-{% endif %}</td>{% endfor %}
{% set p = r.cells.get(pm) %}<td>{{ pval(p.get('t_pvalue')) if p and not r.is_control else '' }}</td><td>{{ pval(p.get('wilcoxon_pvalue')) if p and not r.is_control else '' }}</td>{% if search_seed_tests %}<td>{{ pval(p.get('seed_pvalue')) if p and not r.is_control else '' }}</td>{% endif %}</tr>
{% endfor %}</table>
{% endfor %}
{% if s.training %}<p class="muted">Epochs (best epoch): {% for t in s.training %}{{ t.arm|e }} seed {{ t.seed }}: {{ t.epochs }} ({{ t.best_epoch }}){% if not loop.last %}; {% endif %}{% endfor %}.</p>{% endif %}
<p class="muted">Seconds per arm (mean over seeds): {% for c in s.costs %}{{ c.arm|e }} {% for k, v in c.seconds.items() %}{{ k }} {{ secs(v) }}{% if not loop.last %}, {% endif %}{% endfor %}{% if not loop.last %}; {% endif %}{% endfor %}.</p>
{% endif %}

<h2>Protocol</h2>
<div class="box"><dl>
{% for k, v in protocol_items %}<dt>{{ k|e }}</dt><dd>{{ v|e }}</dd>{% endfor %}
</dl></div>
{% if data_rows %}<p class="muted">{% for name, info in data_rows %}{{ name }}: {{ info.get('rows_out', '?') }} rows{% if info.get('users') %}, {{ info['users'] }} users, {{ info['items'] }} items{% endif %}{% if not loop.last %} &rarr; {% endif %}{% endfor %}</p>{% endif %}

{% if figs.amount %}<h2>Metric vs amount of synthetic data</h2>
<img alt="metric vs amount" src="data:image/png;base64,{{ figs.amount }}">{% endif %}

{% if doc.quality %}<h2>Real vs synthetic data</h2>
<p class="muted">Fidelity scores in [0, 1]; 1 = indistinguishable from real. Privacy: 1 = no synthetic user copies a real one.</p>
<table><tr><th class="l">variant</th>{% for s in quality_cols %}<th>{{ s }}</th>{% endfor %}<th>overall</th><th>privacy</th></tr>
{% for v, q in doc.quality.items() %}<tr><td class="l">{{ v|e }}</td>{% for s in quality_cols %}<td>{{ fmt(q.scores.get(s), 3) }}</td>{% endfor %}<td>{{ fmt(q.overall, 3) }}</td><td>{{ fmt(q.privacy, 3) }}</td></tr>{% endfor %}
</table>
{% for v, png in figs.distributions.items() %}<img alt="distributions {{ v|e }}" src="data:image/png;base64,{{ png }}">{% endfor %}
{% endif %}

{% if doc.training %}<h2>Training</h2>
<p class="muted">Epochs run of the epoch cap and the epoch with the best validation metric (its weights are the model's).
Still rising: the fit reached the cap with the best validation among the last ones.</p>
<table><tr><th class="l">variant</th><th>seed</th><th class="l">model</th><th>epochs run</th><th>best epoch</th><th>best validation</th><th class="l">note</th></tr>
{% for t in doc.training %}<tr><td class="l">{{ t.variant|e }}</td><td>{{ t.seed }}</td><td class="l">{{ t.model|e }}</td><td>{{ t.epochs_run }}{% if t.epoch_cap is not none %} / {{ t.epoch_cap }}{% endif %}</td><td>{{ fmt(t.best_epoch) }}</td><td>{{ fmt(t.best_value) }}</td><td class="l">{{ 'still rising at the epoch cap' if t.still_rising else ('stopped at the epoch cap' if t.at_cap else '') }}</td></tr>{% endfor %}
</table>{% endif %}
{% if figs.curves %}<h2>Training curves</h2>
<img alt="training curves" src="data:image/png;base64,{{ figs.curves }}">{% endif %}

<h2>Cost</h2>
<table><tr><th class="l">variant</th>{% for s in cost_stages %}<th>{{ s }}</th>{% endfor %}<th>total</th><th>rows added</th><th>synthetic share</th><th>peak memory</th></tr>
{% for c in doc.costs %}<tr><td class="l">{{ c.variant|e }}</td>{% for s in cost_stages %}<td>{{ secs(c.seconds.get(s)) }}</td>{% endfor %}
<td>{{ secs(c.total_seconds) }}</td><td>{{ c.rows_added|round|int }}</td><td>{{ fmt(c.synthetic_share, 3) }}</td><td>{{ fmt(c.peak_rss_mb, 0) }} MiB</td></tr>{% endfor %}
</table>
<p class="muted">Seconds are means over seeds of the per-(variant, seed) stages; peak memory is the largest resident set seen during them.</p>

{% if doc.tune %}<h2>Augmentation policy search</h2>
<p>{{ doc.tune.n_trials }} trials (Optuna TPE, seed {{ doc.tune.seed }}), optimising validation {{ doc.tune.metric }} only.
Best trial #{{ doc.tune.best_trial }}: validation {{ fmt(doc.tune.best_value) }}{% if doc.tune.get('best_test') %}; evaluated once on test: {{ fmt(doc.tune.best_test) }}{% endif %}.</p>
<pre class="box">{{ doc.tune.best_policy_yaml|e }}</pre>
{% if figs.tune %}<img alt="tuning history" src="data:image/png;base64,{{ figs.tune }}">{% endif %}
<table><tr><th>trial</th><th>validation {{ doc.tune.metric }}</th><th class="l">parameters</th></tr>
{% for t in doc.tune.trials %}<tr><td>{{ t.number }}</td><td>{{ fmt(t.value) }}</td><td class="l">{{ t.params_text|e }}</td></tr>{% endfor %}
</table>{% endif %}

<p class="muted">Generated by recaug from {{ doc.run_dir|e }}; the same numbers are in report.json and report.md.</p>
</body></html>
"""


def _protocol_items(doc: dict[str, Any]) -> list[tuple[str, str]]:
    p = dict(doc.get("protocol") or {})
    items = []
    for key in (
        "split",
        "n_valid",
        "n_test",
        "min_train",
        "valid_at",
        "test_at",
        "candidates",
        "n_negatives",
        "history_masking",
        "target_masking",
        "ties",
        "ks",
        "metrics",
    ):
        if key in p and p[key] is not None:
            items.append((key, str(p.pop(key))))
    segs = p.pop("segments", None)
    if segs:
        items.append(("segments", "; ".join(", ".join(f"{k}={v}" for k, v in s.items()) for s in segs)))
    items.append(("reported target", doc["target"]))
    items.append(("seeds", ", ".join(map(str, doc["seeds"]))))
    items.append(("variants", ", ".join(f"{v} ({d})" if d else v for v, d in doc["variants"].items())))
    return items


def _table_rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    rows = headline_table(doc)
    last = None
    for r in rows:
        r["first"] = r["segment"] != last
        last = r["segment"]
    return rows


def render_html(doc: dict[str, Any], figs: dict[str, Any]) -> str:
    """The self-contained HTML page."""
    env = jinja2.Environment(autoescape=True, undefined=jinja2.ChainableUndefined)
    env.globals.update(fmt=fmt, pct=pct, pval=pval, secs=secs, variant_label=variant_label, lift_class=lift_class)
    quality_cols = list(dict.fromkeys(k for q in doc["quality"].values() for k in q.get("scores", {})))
    cost_stages = list(dict.fromkeys(k for c in doc["costs"] for k in c["seconds"]))
    data_rows = list(doc["data"].items())  # the shared stages, in the registry's order
    return env.from_string(_TEMPLATE).render(
        doc=doc, figs=figs, metrics=headline_metrics(doc), table=_table_rows(doc),
        protocol_items=_protocol_items(doc), quality_cols=quality_cols, cost_stages=cost_stages,
        data_rows=data_rows, held_out_notes=held_out_notes(doc), rising_notes=rising_notes(doc),
        seed_tests=has_seed_tests(doc),
        search_intro=search_intro(doc) if doc.get("search") else "",
        search_tables=search_tables(doc) if doc.get("search") else [],
        search_seed_tests=search_seed_tests(doc),
    )  # fmt: skip


def markdown_search(doc: dict[str, Any]) -> list[str]:
    """The "Product search" section as Markdown lines (lifts in bold only when significant)."""
    s = doc["search"]
    pm = s.get("primary_metric")
    seed_tests = search_seed_tests(doc)
    lines = ["", "## Product search", "", search_intro(doc)]
    for t in search_tables(doc):
        title = t["model"] + (f" ({t['name']})" if t["name"] != t["model"] else "")
        lines += [
            "",
            f"### {title}",
            "",
            "| segment | arm | events | " + " | ".join(s["metrics"]) + f" | p (t, {pm}) | p (Wilcoxon, {pm}) |"
            + (f" p (seeds, {pm}) |" if seed_tests else ""),
            "|---|---|---:|" + "---:|" * (len(s["metrics"]) + 2) + ("---:|" if seed_tests else ""),
        ]
        for r in t["rows"]:
            cells = []
            for m in s["metrics"]:
                c = r["cells"].get(m)
                if not c:
                    cells.append("-")
                    continue
                text = fmt(c.get("mean"))
                if not r["is_control"]:
                    lift = pct(c.get("lift"))
                    text += f" ({f'**{lift}**' if lift_class(c) else lift})"
                cells.append(text)
            p = r["cells"].get(pm) if pm else None
            if r["is_control"] or not p:
                extra = [""] * (3 if seed_tests else 2)
            else:
                extra = [pval(p.get("t_pvalue")), pval(p.get("wilcoxon_pvalue"))]
                extra += [pval(p.get("seed_pvalue"))] if seed_tests else []
            seg = r["segment"] if r["first"] else ""
            lines.append(f"| {seg} | {r['label']} | {r['n_events']} | " + " | ".join(cells + extra) + " |")
    return lines


def render_markdown(doc: dict[str, Any]) -> str:
    """The same numbers as Markdown tables (no figures)."""
    lines = [
        f"# {doc['title']}",
        "",
        f"Target: **{doc['target']}**; seeds {', '.join(map(str, doc['seeds']))}; "
        f"device {doc.get('device')}.",
    ]
    metrics = headline_metrics(doc)
    seed_tests = has_seed_tests(doc)
    alpha = doc.get("alpha", 0.05)
    rule = (
        "both the per-user Wilcoxon test and the seed-level test (p (seeds): one-sample t-test of the "
        "per-seed relative lifts against 0)"
        if seed_tests
        else "the per-user Wilcoxon test"
    )
    headline_rows = _table_rows(doc)
    lines += [] if not headline_rows else [
        "",
        "## Headline: augmented variants vs control",
        "",
        f"Mean [{round(doc['confidence'] * 100)}% bootstrap CI]; lift and paired p-values on {metrics[0] if metrics else ''}. "
        f"A lift is in bold only when it is significant at {alpha:g} by {rule}.",
        "",
        *[f"> **Warning:** {note}\n" for note in held_out_notes(doc)],
        *[f"> **Still rising:** {note}\n" for note in rising_notes(doc)],
        "| segment | variant | users | " + " | ".join(metrics) + " | lift | p (t) | p (Wilcoxon) |"
        + (" p (seeds) |" if seed_tests else ""),
        "|---|---|---:|" + "---:|" * len(metrics) + "---:|---:|---:|" + ("---:|" if seed_tests else ""),
    ]  # fmt: skip
    for r in headline_rows:
        cells = []
        for m in metrics:
            c = r["cells"].get(m)
            cells.append(f"{fmt(c['mean'])} [{fmt(c['ci_low'])}, {fmt(c['ci_high'])}]" if c else "-")
        p = r["cells"].get(metrics[0]) if metrics else None
        if r["is_control"] or not p:
            extra = [""] * (4 if seed_tests else 3)
        else:
            lift = pct(p.get("lift"))
            extra = [f"**{lift}**" if lift_class(p) else lift, pval(p.get("t_pvalue")), pval(p.get("wilcoxon_pvalue"))]
            extra += [pval(p.get("seed_pvalue"))] if seed_tests else []
        control = " (control)" if r["is_control"] and r["variant"] != "control" else ""
        name = variant_label(doc, r["variant"]) + control
        lines.append(
            f"| {r['segment'] if r['first'] else ''} | {name} | {r['n_users']} | "
            + " | ".join(cells + extra)
            + " |"
        )
    if doc.get("search"):
        lines += markdown_search(doc)
    if doc.get("training"):
        lines += [
            "",
            "## Training",
            "",
            "Epochs run of the epoch cap and the epoch with the best validation metric (its weights are the "
            "model's). Still rising: the fit reached the cap with the best validation among the last ones.",
            "",
            "| variant | seed | model | epochs run | best epoch | best validation | note |",
            "|---|---:|---|---:|---:|---:|---|",
        ]
        for t in doc["training"]:
            run = f"{t['epochs_run']}" + (f" / {t['epoch_cap']}" if t.get("epoch_cap") is not None else "")
            note = "still rising at the epoch cap" if t["still_rising"] else "stopped at the epoch cap" if t["at_cap"] else ""
            lines.append(
                f"| {t['variant']} | {t['seed']} | {t['model']} | {run} | {fmt(t['best_epoch'])} | "
                f"{fmt(t['best_value'])} | {note} |"
            )
    lines += ["", "## Protocol", ""]
    lines += [f"- **{k}**: {v}" for k, v in _protocol_items(doc)]
    if doc["quality"]:
        cols = list(dict.fromkeys(k for q in doc["quality"].values() for k in q.get("scores", {})))
        lines += [
            "",
            "## Real vs synthetic data",
            "",
            "| variant | " + " | ".join(cols) + " | overall | privacy |",
            "|---|" + "---:|" * (len(cols) + 2),
        ]
        for v, q in doc["quality"].items():
            lines.append(
                f"| {v} | "
                + " | ".join(fmt(q["scores"].get(c), 3) for c in cols)
                + f" | {fmt(q.get('overall'), 3)} | {fmt(q.get('privacy'), 3)} |"
            )
    stages = list(dict.fromkeys(k for c in doc["costs"] for k in c["seconds"]))
    lines += [
        "",
        "## Cost",
        "",
        "| variant | " + " | ".join(stages) + " | total | rows added | synthetic share | peak memory (MiB) |",
        "|---|" + "---:|" * (len(stages) + 4),
    ]
    for c in doc["costs"]:
        lines.append(
            f"| {c['variant']} | "
            + " | ".join(secs(c["seconds"].get(s)) for s in stages)
            + f" | {secs(c['total_seconds'])} | {round(c['rows_added'])} | {fmt(c['synthetic_share'], 3)} | {fmt(c['peak_rss_mb'], 0)} |"
        )
    tune = doc.get("tune")
    if tune:
        lines += [
            "",
            "## Augmentation policy search",
            "",
            f"{tune['n_trials']} trials (Optuna TPE, seed {tune['seed']}), validation {tune['metric']} only. "
            f"Best trial #{tune['best_trial']}: validation {fmt(tune['best_value'])}"
            + (f"; test {fmt(tune['best_test'])}" if tune.get("best_test") is not None else "")
            + ".",
            "",
            "```yaml",
            tune["best_policy_yaml"].rstrip(),
            "```",
            "",
            f"| trial | validation {tune['metric']} | parameters |",
            "|---:|---:|---|",
        ]
        lines += [f"| {t['number']} | {fmt(t['value'])} | {t['params_text']} |" for t in tune["trials"]]
    lines.append("")
    return "\n".join(lines)
