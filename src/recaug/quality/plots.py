"""PNG figures comparing real and synthetic data (matplotlib Agg canvas, no pyplot global state)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def _save(fig: Figure, path: Path) -> None:
    FigureCanvasAgg(fig)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def length_histogram(real: np.ndarray, synthetic: np.ndarray, path: Path) -> None:
    """Overlaid histograms of per-user sequence lengths."""
    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    top = int(max(real.max(initial=1), synthetic.max(initial=1)))
    bins = np.unique(np.linspace(1, top + 1, min(top, 50) + 1).astype(int))
    ax.hist(real, bins=bins, alpha=0.5, density=True, label="real")
    ax.hist(synthetic, bins=bins, alpha=0.5, density=True, label="synthetic")
    ax.set_xlabel("interactions per user")
    ax.set_ylabel("share of users")
    ax.set_title("Sequence length")
    ax.legend()
    _save(fig, path)


def popularity_rank_curve(real: np.ndarray, synthetic: np.ndarray, path: Path) -> None:
    """Item share against popularity rank (log-log), each side ranked by its own counts."""
    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    for shares, label in ((real, "real"), (synthetic, "synthetic")):
        s = np.sort(shares)[::-1]
        ax.loglog(np.arange(1, len(s) + 1), s, label=label)
    ax.set_xlabel("item popularity rank")
    ax.set_ylabel("share of interactions")
    ax.set_title("Item popularity")
    ax.legend()
    _save(fig, path)


def category_bars(categories: list[str], real: np.ndarray, synthetic: np.ndarray, path: Path) -> None:
    """Side-by-side bars of the share of interactions per category."""
    fig = Figure(figsize=(max(6, 0.4 * len(categories)), 4))
    ax = fig.add_subplot()
    x = np.arange(len(categories))
    ax.bar(x - 0.2, real, width=0.4, label="real")
    ax.bar(x + 0.2, synthetic, width=0.4, label="synthetic")
    ax.set_xticks(x, categories, rotation=45, ha="right")
    ax.set_ylabel("share of interactions")
    ax.set_title("Category mix")
    ax.legend()
    _save(fig, path)
