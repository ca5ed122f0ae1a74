"""``FuseReport``: what went into a fusion, what was dropped and why, what came out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class FuseReport:
    """Row accounting of one :meth:`Fuser.fuse` call.

    ``rows_in`` / ``rows_out`` count rows per ``source`` (real rows included); ``dropped``
    maps each filter that ran, in order, to the synthetic rows it removed (0 included).
    ``users_extended`` counts existing users that received synthetic rows, ``users_new``
    the new synthetic users kept. ``dropped["held_out_hit"]`` (``held_out_hits="drop"`` only) is
    a decision made with held-out labels. ``diagnostics`` holds counts taken *after* fusion that
    read held-out data (e.g. ``held_out_hits_kept``, see :func:`~recaug.fuse.fuser.held_out_hits_kept`);
    they changed nothing.
    """

    rows_in: dict[str, int]
    dropped: dict[str, int]
    rows_out: dict[str, int]
    users_extended: int = 0
    users_new: int = 0
    settings: dict[str, Any] = field(default_factory=dict)
    diagnostics: dict[str, int] = field(default_factory=dict)

    @property
    def synthetic_in(self) -> int:
        """Synthetic rows offered."""
        return sum(v for k, v in self.rows_in.items() if k != "real")

    @property
    def synthetic_out(self) -> int:
        """Synthetic rows kept."""
        return sum(v for k, v in self.rows_out.items() if k != "real")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "rows_in": dict(self.rows_in),
            "dropped": dict(self.dropped),
            "rows_out": dict(self.rows_out),
            "users_extended": self.users_extended,
            "users_new": self.users_new,
            "settings": dict(self.settings),
            "diagnostics": dict(self.diagnostics),
        }

    def to_markdown(self) -> str:
        """A short readable summary."""
        lines = ["# Fusion", "", "| source | rows in | rows out |", "|---|---|---|"]
        for source in sorted(set(self.rows_in) | set(self.rows_out)):
            lines.append(f"| {source} | {self.rows_in.get(source, 0)} | {self.rows_out.get(source, 0)} |")
        lines += ["", "| dropped because | synthetic rows |", "|---|---|"]
        lines += [
            f"| {reason} (diagnostic: decided with held-out labels) | {n} |"
            if reason == "held_out_hit"
            else f"| {reason} | {n} |"
            for reason, n in self.dropped.items()
        ]
        lines += [
            "",
            f"Existing users extended: {self.users_extended}; new synthetic users: {self.users_new}.",
            "",
        ]
        if self.diagnostics:
            lines += [
                "Diagnostics (counted after fusion by reading held-out items; they changed nothing):",
                "",
            ]
            lines += [f"- {name}: {n}" for name, n in self.diagnostics.items()]
            lines.append("")
        return "\n".join(lines)
